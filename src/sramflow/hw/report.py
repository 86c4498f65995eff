"""``sram_design.json`` content and the ``sramflow sram info`` summary for a hardware description."""

from __future__ import annotations

from typing import Any

from sramflow.hw.spec import HardwareSpec, Source, SramMacro
from sramflow.jsonio import InputFile, input_file

CLAIMED_PRESET = "sky130-design1-claimed"


def hardware_inputs(name_or_path: str | None) -> tuple[InputFile, ...]:
    """The YAML files a hardware argument reads (a preset's file and the named off-chip memories), for provenance."""
    from importlib import resources

    from sramflow.hw.load import list_presets

    if name_or_path is None:
        return ()
    presets = resources.files("sramflow.hw").joinpath("presets")
    if name_or_path in list_presets():
        path = str(presets.joinpath(f"{name_or_path}.yaml"))
    else:
        path = name_or_path
    return input_file("hardware", path) + input_file("offchip_presets", str(presets.joinpath("_offchip.yaml")))


def _src(s: Source) -> dict[str, Any]:
    rng = {} if s.low is None else {"low": s.low, "high": s.high}
    return {"kind": s.kind, "ref": s.ref, **rng}


def _power_mw(energy_pj: float, clock_mhz: float) -> float:
    """Power of one access every cycle: pJ x MHz = uW."""
    return energy_pj * clock_mhz / 1e3


def macro_report(m: SramMacro, clock_mhz: float) -> dict[str, Any]:
    cycle_ns = 1e3 / clock_mhz

    def item(field: str, value: float, unit: str) -> dict[str, Any]:
        return {"value": value, "unit": unit, "source": _src(m.source_of(field))}

    return {
        "name": m.name, "tech": m.tech, "ports": m.ports, "banks": m.banks, "vdd_v": m.vdd_v,
        "organization": f"{m.banks} x {m.words} words x {m.word_bits} bits",
        "word_bits": m.word_bits, "words_per_bank": m.words, "size_bytes": m.size_bytes, "size_bits": m.size_bytes * 8,
        "read_energy_pj": item("read_energy_pj", m.read_energy_pj, "pJ per word read"),
        "write_energy_pj": item("write_energy_pj", m.write_energy_pj, "pJ per word write"),
        "idle_energy_pj_per_cycle": item("idle_energy_pj_per_cycle", m.idle_energy_pj_per_cycle, "pJ per idle cycle"),
        "leakage_uw": item("leakage_uw", m.leakage_uw * m.banks, "uW (all banks)"),
        "clk_to_q_ns": item("clk_to_q_ns", m.clk_to_q_ns, "ns"),
        "min_period_ns": item("min_period_ns", m.min_period_ns, "ns"),
        "area_um2": item("area_um2", m.area_um2 * m.banks, "um^2 (all banks)"),
        "at_clock": {
            "clock_mhz": clock_mhz,
            "read_power_mw": _power_mw(m.read_energy_pj, clock_mhz),
            "write_power_mw": _power_mw(m.write_energy_pj, clock_mhz),
            "idle_power_mw": _power_mw(m.idle_energy_pj_per_cycle, clock_mhz) + m.leakage_uw * m.banks / 1e3,
            "read_energy_pj_per_byte": m.read_energy_pj / m.word_bytes,
            "write_energy_pj_per_byte": m.write_energy_pj / m.word_bytes,
            "port_bandwidth_bytes_per_cycle": m.word_bytes * m.banks,
            "meets_clock": m.min_period_ns <= cycle_ns,
            "slack_ns": cycle_ns - m.min_period_ns,
        },
    }


def _component(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return {f: {"value": getattr(obj, f), "source": _src(obj.source_of(f))} for f in fields}


def _claims_comparison(spec: HardwareSpec) -> dict[str, Any] | None:
    from sramflow.hw.load import resolve_hw

    if spec.name == CLAIMED_PRESET:
        return None
    claimed = resolve_hw(CLAIMED_PRESET)
    c, m = claimed.main_sram, spec.main_sram
    rows = {}
    for f in ("read_energy_pj", "write_energy_pj", "leakage_uw", "clk_to_q_ns"):
        ours, theirs = getattr(m, f), getattr(c, f)
        rows[f] = {"claimed": theirs, "this_spec": ours, "claimed_over_this": theirs / ours if ours else None,
                   "this_source_kind": m.source_of(f).kind}
    return {"against": CLAIMED_PRESET, "claims_source": _src(c.source), "fields": rows}


def memories_report(spec: HardwareSpec) -> list[dict[str, Any]]:
    """Every memory level, innermost first, with its capacity, port and per-byte energies."""
    return [{"level": lv.index, "name": lv.name, "kind": lv.kind, "size_bytes": lv.size_bytes,
             "port_bytes_per_cycle": lv.port_bytes_per_cycle, "read_energy_pj_per_byte": lv.read_energy_pj_per_byte,
             "write_energy_pj_per_byte": lv.write_energy_pj_per_byte, "source": _src(lv.source)}
            for lv in spec.memories]


def sram_design_report(spec: HardwareSpec) -> dict[str, Any]:
    """The ``sram_design.json`` document: every macro, with energies, their provenance and power at the clock.
    A spec with more than one SRAM level adds ``memories`` (every level); one-level documents keep their form."""
    off, mac, vec = spec.offchip, spec.mac_array, spec.vector_unit
    levels = {"memories": memories_report(spec)} if len(spec.sram) > 1 else {}
    return {
        "hardware": spec.name, "description": spec.description, "clock_mhz": spec.clock_mhz,
        "cycle_ns": spec.cycle_ns,
        "sram": [macro_report(m, spec.clock_mhz) for m in spec.sram],
        "sram_total_bytes": sum(m.size_bytes for m in spec.sram),
        "offchip": {"name": off.name, "kind": off.kind, **_component(off, (
            "bandwidth_bytes_per_cycle", "latency_cycles", "burst_bytes", "read_energy_pj_per_byte",
            "write_energy_pj_per_byte", "standby_power_uw")),
            "bandwidth_mb_per_s": off.bandwidth_bytes_per_cycle * spec.clock_mhz},
        "mac_array": _component(mac, ("macs_per_cycle", "energy_pj_per_mac", "accumulator_bits", "accumulators",
                                      "leakage_uw", "input_register_bytes")),
        "vector_unit": _component(vec, ("lanes", "energy_pj_per_op", "lut_entries", "energy_pj_per_lut")),
        "register_file": None if spec.register_file is None else {
            "bytes_per_lane": spec.register_file.bytes_per_lane,
            "energy_pj_per_access": spec.register_file.energy_pj_per_access,
            "source": _src(spec.register_file.source)},
        "writeup_claims": _claims_comparison(spec),
        **levels,
    }


def _short(s: dict[str, str], width: int = 90) -> str:
    ref = " ".join(s["ref"].split())
    return f"[{s['kind']}] {ref[:width]}{'...' if len(ref) > width else ''}"


def sram_info_text(spec: HardwareSpec, full_refs: bool = False) -> str:
    """Readable summary for ``sramflow sram info``."""
    rep = sram_design_report(spec)
    width = 10_000 if full_refs else 90
    out = [f"{spec.name}: {spec.description}".strip(), f"clock {spec.clock_mhz:g} MHz ({spec.cycle_ns:g} ns)", ""]
    out.append("memory levels (innermost first):")
    for lv in memories_report(spec):
        size = "unbounded" if lv["size_bytes"] is None else f"{lv['size_bytes']:,} B"
        energy = ("energy inside the MAC energy" if lv["kind"] == "registers" else
                  f"read {lv['read_energy_pj_per_byte']:.4g} / write {lv['write_energy_pj_per_byte']:.4g} pJ/B")
        window = next((m.partition_of for m in spec.sram if m.name == lv["name"] and m.partition_of), "")
        port = f"port of {window} (a window of its macro)" if window else \
            f"port {lv['port_bytes_per_cycle']:g} B/cycle"
        out.append(f"  L{lv['level']} {lv['name']:<14} {lv['kind']:<9} {size:>12}  {port}  {energy}  "
                   f"[{lv['source']['kind']}]")
    out.append("")
    for m in rep["sram"]:
        out.append(f"SRAM {m['name']} ({m['tech'] or 'tech not stated'}, {m['vdd_v']:g} V): {m['organization']}, "
                   f"{m['ports']}, {m['size_bytes']} bytes")
        for key in ("read_energy_pj", "write_energy_pj", "idle_energy_pj_per_cycle", "leakage_uw", "clk_to_q_ns",
                    "min_period_ns", "area_um2"):
            it = m[key]
            out.append(f"  {key:<26}{it['value']:>12.6g} {it['unit']:<20} {_short(it['source'], width)}")
        at = m["at_clock"]
        out.append(f"  at {at['clock_mhz']:g} MHz: read {at['read_power_mw']:.4g} mW, write {at['write_power_mw']:.4g} mW"
                   f" (one access per cycle), idle {at['idle_power_mw']:.4g} mW; "
                   f"{at['read_energy_pj_per_byte']:.4g} pJ/byte read; "
                   f"{'meets' if at['meets_clock'] else 'MISSES'} the clock (slack {at['slack_ns']:.3g} ns)")
        out.append("")
    off = rep["offchip"]
    out.append(f"off-chip {off['name']} ({off['kind']}): {off['bandwidth_mb_per_s']:g} MB/s at this clock")
    units = {"bandwidth_bytes_per_cycle": "B/cycle", "latency_cycles": "cycles", "burst_bytes": "B",
             "read_energy_pj_per_byte": "pJ/B", "write_energy_pj_per_byte": "pJ/B", "standby_power_uw": "uW"}
    for key, unit in units.items():  # each figure with its own provenance label, not its component's
        it = off[key]
        src = it["source"]
        rng = f" (range {src['low']:g}-{src['high']:g})" if "low" in src else ""
        out.append(f"  {key:<26}{it['value']:>12.6g} {unit + rng:<20} {_short(src, width)}")
    mac, vec = rep["mac_array"], rep["vector_unit"]
    out.append(f"MAC array: {mac['macs_per_cycle']['value']} MACs/cycle, {mac['energy_pj_per_mac']['value']:g} pJ/MAC "
               f"{_short(mac['energy_pj_per_mac']['source'], width)}")
    out.append(f"  input registers: {mac['input_register_bytes']['value']} B (one input window row reused across "
               f"kernel columns) {_short(mac['input_register_bytes']['source'], width)}")
    out.append(f"vector unit: {vec['lanes']['value']} lane(s), {vec['energy_pj_per_op']['value']:g} pJ/op, "
               f"{vec['lut_entries']['value']}-entry LUT {_short(vec['energy_pj_per_op']['source'], width)}")
    claims = rep["writeup_claims"]
    if claims:
        out += ["", f"write-up claims ({claims['against']}) vs this spec:"]
        for f, row in claims["fields"].items():
            ratio = row["claimed_over_this"]
            out.append(f"  {f:<18} claimed {row['claimed']:>10.4g}  here {row['this_spec']:>10.4g} "
                       f"[{row['this_source_kind']}]  ratio {ratio:.3g}x" if ratio else f"  {f}: n/a")
    return "\n".join(out)
