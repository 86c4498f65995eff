"""The hardware table (every memory level, the MAC array, the vector unit, each figure with its source) and the
sensitivity of the headline to the assumed figures: the numbers that decide the headline, on the page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sramflow.report.inputs import Sensitivity

HEADERS = ("level / unit", "figure", "value", "provenance", "range", "source")
_MACRO_FIELDS = ("read_energy_pj", "write_energy_pj", "idle_energy_pj_per_cycle", "leakage_uw", "clk_to_q_ns",
                 "min_period_ns", "area_um2")
_OFFCHIP_UNITS = {"bandwidth_bytes_per_cycle": "B/cycle", "latency_cycles": "cycles", "burst_bytes": "B",
                  "read_energy_pj_per_byte": "pJ/B", "write_energy_pj_per_byte": "pJ/B", "standby_power_uw": "uW"}
_MAC_UNITS = {"macs_per_cycle": "MACs/cycle", "energy_pj_per_mac": "pJ/MAC", "accumulator_bits": "bits",
              "accumulators": "", "leakage_uw": "uW", "input_register_bytes": "B"}
_VECTOR_UNITS = {"lanes": "ops/cycle", "energy_pj_per_op": "pJ/op", "lut_entries": "entries", "energy_pj_per_lut": "pJ"}


def _range(src: Mapping[str, Any]) -> str:
    return f"{src['low']:g} - {src['high']:g}" if "low" in src else ""


def _row(where: str, figure: str, value: float, unit: str, src: Mapping[str, Any]) -> list[str]:
    return [where, figure, f"{value:,.6g} {unit}".strip(), src["kind"], _range(src), " ".join(src["ref"].split())]


def hardware_rows(sram_design: Mapping[str, Any]) -> list[list[str]]:
    """One row per figure of every memory level (on-chip macros innermost first, then off-chip), the MAC array and
    the vector unit; the source text in full."""
    s = sram_design
    rows: list[list[str]] = []
    for i, m in enumerate(s["sram"]):
        where = f"L{i + 1} SRAM {m['name']}"
        rows.append([where, "organization", f"{m['organization']}, {m['ports']}, {m['size_bytes']:,} B", "", "",
                     f"{m['tech'] or 'tech not stated'}, {m['vdd_v']:g} V"])
        rows += [_row(where, f, m[f]["value"], m[f]["unit"], m[f]["source"]) for f in _MACRO_FIELDS]
    off = s["offchip"]
    where = f"L{len(s['sram']) + 1} off-chip {off['name']}"
    rows += [_row(where, f, off[f]["value"], u, off[f]["source"]) for f, u in _OFFCHIP_UNITS.items()]
    rows += [_row("MAC array", f, s["mac_array"][f]["value"], u, s["mac_array"][f]["source"])
             for f, u in _MAC_UNITS.items()]
    rows += [_row("vector unit", f, s["vector_unit"][f]["value"], u, s["vector_unit"][f]["source"])
             for f, u in _VECTOR_UNITS.items()]
    rf = s.get("register_file")
    if rf:
        rows.append(_row("register file", "energy_pj_per_access", rf["energy_pj_per_access"], "pJ", rf["source"]))
    return rows


def sensitivity_rows(sens: Sensitivity) -> list[list[str]]:
    """Per assumed figure with a range: the headline at its low and high end."""
    by_field: dict[tuple[str, str], dict[str, Any]] = {}
    for p in sens.points:
        by_field.setdefault((p.component, p.field), {"unit": p.unit, "value": p.value})[p.end] = p
    rows = []
    for (comp, f), d in by_field.items():
        lo, hi = d["low"], d["high"]
        rows.append([f"{comp}.{f}", f"{d['value']:g} {d['unit']}", f"{lo.at:g} - {hi.at:g}",
                     f"{lo.time_ms:,.1f} - {hi.time_ms:,.1f}", f"{lo.energy_mj:,.2f} - {hi.energy_mj:,.2f}"])
    return rows


SENSITIVITY_HEADERS = ("assumed figure", "as described", "range", "latency ms (low - high end)",
                       "energy mJ (low - high end)")


def sensitivity_sentence(sens: Sensitivity | None) -> str:
    if sens is None:
        return "Sensitivity not computed."
    if not sens.points:
        text = "No assumed figure of this hardware states a range, so the headline's sensitivity is not shown."
    else:
        t0, t1, e0, e1 = sens.span()
        text = (f"Sensitivity: over the stated ranges of the assumed figures (one at a time), latency spans "
                f"{t0:,.1f}-{t1:,.1f} ms and energy {e0:,.2f}-{e1:,.2f} mJ per inference (as described: "
                f"{sens.base_time_ms:,.1f} ms, {sens.base_energy_mj:,.2f} mJ)." +
                (f" Each point keeps {sens.held}; its mapping is searched anew within it." if sens.held else ""))
    if sens.unranged:
        text += f" Assumed without a stated range: {', '.join(sens.unranged)}."
    return text

