"""Liberty import: every file in ../shared/sram imports with the numbers that the files and
reference_data.json give; presets built from them stay in step; bad input gives a clear error."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from sramflow.hw.liberty import LibertyImportError, read_liberty, to_sram_macro
from sramflow.hw.load import hw_from_dict, hw_to_dict, macro_to_dict, resolve_hw

SRAM = Path(__file__).resolve().parents[2] / "shared" / "sram"
LIBS = sorted(SRAM.glob("*/*.lib")) if SRAM.exists() else []
needs_shared = pytest.mark.skipif(not LIBS, reason="../shared/sram not present")


def _reference() -> dict[str, dict]:
    data = json.loads((SRAM / "reference_data.json").read_text())
    return {m["name"].split(" ")[0]: m for m in data["macros"]}


def _lib(part: str) -> Path:
    hits = [p for p in LIBS if part in p.name]
    assert len(hits) == 1, (part, hits)
    return hits[0]


@needs_shared
@pytest.mark.parametrize("path", LIBS, ids=lambda p: p.name)
def test_every_shared_lib_imports(path: Path) -> None:
    m = read_liberty(path)
    assert m.word_bits > 0 and m.words > 0 and m.words & (m.words - 1) == 0
    for role in ("read", "write", "idle"):
        rise, fall = getattr(m, f"{role}_edges_pj")
        total = getattr(m, f"{role}_energy_pj" if role != "idle" else "idle_energy_pj_per_cycle")
        per_cycle_power = m.convention == "openram"
        assert total == pytest.approx(max(rise, fall) if per_cycle_power else rise + fall)
    assert m.clk_to_q_ns[0] <= m.clk_to_q_ns[1]
    macro = to_sram_macro(m)
    assert hw_from_dict({**hw_to_dict(resolve_hw("sky130-design1")), "sram": [macro_to_dict(macro)]}).main_sram == macro


@needs_shared
@pytest.mark.parametrize("name", [n for n in _reference() if "_" in n] if LIBS else [])
def test_matches_reference_data(name: str) -> None:
    ref = _reference()[name]
    if "energy_pJ_per_edge" in ref or "read_settle_after_clk_fall_ns" in ref:
        pytest.skip("third-party SPICE figures: no Liberty file here")
    candidates = [p for p in LIBS if p.name.startswith(name) and "TT_1p8V_25C" in p.name or
                  p.name.startswith(name) and not p.name.startswith("sram_1rw1r")]
    path = min(candidates, key=lambda p: ("layoutmode" not in p.name, len(p.name)))
    m = read_liberty(path)
    assert m.word_bits * m.words == ref["bits"]
    assert m.vdd_v == ref["vdd"]
    if "area_um2" in ref and m.area_um2:
        assert m.area_um2 == pytest.approx(ref["area_um2"])
    if "clk_to_q_ns" in ref:
        assert m.clk_to_q_ns == pytest.approx(tuple(ref["clk_to_q_ns"]), abs=0.006)
    if "min_period_ns" in ref:
        assert m.min_period_ns == pytest.approx(ref["min_period_ns"], abs=0.006)
    if "leakage_nW" in ref:
        assert m.leakage_uw == pytest.approx(ref["leakage_nW"] / 1e3)
    for key in ("leakage_mW", "leakage_mW_placeholder"):
        if key in ref:
            assert m.leakage_uw == pytest.approx(ref[key] * 1e3, rel=1e-3)  # reference rounds to 4 digits
    if "energy_pJ_per_access" in ref:  # IHP: stated pJ per toggle, all on the rising clock edge
        e = ref["energy_pJ_per_access"]
        assert m.read_edges_pj[0] == pytest.approx(e["read"]) and m.read_energy_pj == pytest.approx(e["read"])
        assert m.write_energy_pj == pytest.approx(e["write"])
        if "clock_idle_men0" in e:
            assert m.idle_energy_pj_per_cycle == pytest.approx(e["clock_idle_men0"], abs=0.005)
        assert not any("not stated" in w for w in m.warnings)
    if "energy_pJ_per_access_if_default_units" in ref:  # GF180: unit not stated, per edge
        e = ref["energy_pJ_per_access_if_default_units"]
        assert m.read_edges_pj[0] == pytest.approx(e["read"]) and m.write_edges_pj[0] == pytest.approx(e["write"])
        assert any("unit not stated" in w for w in m.warnings)
    if "internal_power_field" in ref:  # OpenRAM: mW at 100 MHz in an energy field
        field = ref["internal_power_field"]
        field = field["layout_run" if "layoutmode" in path.name else "netlist_only_run"] if isinstance(field, dict) \
            else field
        assert m.read_energy_pj == pytest.approx(field * 1e3 / 100.0, rel=1e-6)
        assert m.write_energy_pj == m.read_energy_pj == m.idle_energy_pj_per_cycle
        assert any("OpenRAM analytical" in w and "x10 pJ" in w for w in m.warnings)


@needs_shared
def test_openram_layout_mode_energy_flagged() -> None:
    m = read_liberty(_lib("layoutmode"))
    assert any("implausible energy" in w for w in m.warnings)


@needs_shared
def test_openram_event_rate_option() -> None:
    path = _lib("sky130_sram_2kbyte")
    assert read_liberty(path, openram_event_mhz=50.0).read_energy_pj == pytest.approx(
        2 * read_liberty(path).read_energy_pj)


@needs_shared
def test_vdd_scaling_marks_provenance() -> None:
    path = _lib("2P_256x8")
    base, scaled = read_liberty(path), read_liberty(path, vdd_v=1.8)
    factor = (1.8 / base.vdd_v) ** 2
    assert scaled.read_energy_pj == pytest.approx(base.read_energy_pj * factor)
    assert scaled.write_energy_pj == pytest.approx(base.write_energy_pj * factor)
    assert scaled.leakage_uw == base.leakage_uw and scaled.vdd_v == 1.8
    macro = to_sram_macro(scaled)
    assert macro.source.kind == "scaled" and "(1.8/1.2)^2" in macro.source.ref
    assert macro.source_of("leakage_uw").kind == "vendor"
    assert to_sram_macro(base).source.kind == "vendor"


@needs_shared
def test_ihp_preset_is_what_the_lib_says() -> None:
    preset = resolve_hw("ihp130-2p256x8").main_sram
    imported = to_sram_macro(read_liberty(_lib("2P_256x8")))
    for f in ("word_bits", "words", "ports", "read_energy_pj", "write_energy_pj", "idle_energy_pj_per_cycle",
              "leakage_uw", "clk_to_q_ns", "min_period_ns", "area_um2", "vdd_v", "tech"):
        assert getattr(preset, f) == pytest.approx(getattr(imported, f)) if isinstance(getattr(preset, f), float) \
            else getattr(preset, f) == getattr(imported, f), f


@needs_shared
def test_design1_energies_follow_their_stated_derivation() -> None:
    """sky130-design1: sqrt(E(256x8) x E(64x32)) from IHP vendor data, x (1.8/1.2)^2."""
    e8, e32 = read_liberty(_lib("2P_256x8"), vdd_v=1.8), read_liberty(_lib("2P_64x32"), vdd_v=1.8)
    m = resolve_hw("sky130-design1").main_sram
    assert m.read_energy_pj == pytest.approx(math.sqrt(e8.read_energy_pj * e32.read_energy_pj), abs=0.01)
    assert m.write_energy_pj == pytest.approx(math.sqrt(e8.write_energy_pj * e32.write_energy_pj), abs=0.01)
    assert m.idle_energy_pj_per_cycle == pytest.approx(
        math.sqrt(e8.idle_energy_pj_per_cycle * e32.idle_energy_pj_per_cycle), abs=0.001)
    assert m.leakage_uw == pytest.approx(e8.leakage_uw * (1.8 / 1.2) ** 2, abs=1e-4)
    assert m.clk_to_q_ns == pytest.approx(e8.clk_to_q_ns[1], abs=0.005)


# ---------------------------------------------------------------- bad input


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LibertyImportError, match=r"nope\.lib: cannot read"):
        read_liberty(tmp_path / "nope.lib")


def test_not_liberty(tmp_path: Path) -> None:
    p = tmp_path / "junk.lib"
    p.write_text("this is { not liberty")
    with pytest.raises(LibertyImportError, match=r"junk\.lib: not a valid Liberty file"):
        read_liberty(p)


def _write(tmp_path: Path, body: str, header: str = 'capacitive_load_unit (1,pf);\n  voltage_unit : "1V";\n'
           '  leakage_power_unit : "1nW";\n  nom_voltage : 1.2;\n') -> Path:
    p = tmp_path / "mini.lib"
    p.write_text(f"library (mini) {{\n  {header}  cell (m) {{\n{body}\n  }}\n}}\n")
    return p


def test_no_cell_or_unknown_pins(tmp_path: Path) -> None:
    p = tmp_path / "empty.lib"
    p.write_text("library (x) { time_unit : \"1ns\"; }")
    with pytest.raises(LibertyImportError, match=r"empty\.lib: expected one cell \(the SRAM macro\), found 0"):
        read_liberty(p)
    with pytest.raises(LibertyImportError, match=r"mini\.lib: unknown SRAM pin convention \(pins CK, D\); known: openram"):
        read_liberty(_write(tmp_path, "pin (CK) { clock : true; }\n pin (D) { direction : input; }"))


_GF_LIKE = """
    area : 10.0;
    cell_leakage_power : 1.0;
    memory () { type : ram; address_width : 4; word_width : 8; }
    pin (CEN) { direction : input; }
    pin (GWEN) { direction : input; }
    pin (CLK) { clock : true;
      internal_power () { when : "!CEN & !GWEN"; rise_power (scalar) { values ("2.0"); } }
      internal_power () { when : "!CEN & GWEN"; rise_power (scalar) { values ("1.0"); } }
      internal_power () { when : "CEN"; rise_power (scalar) { values ("0.1"); } }
    }
    bus (Q) { timing () { related_pin : "CLK"; timing_type : rising_edge;
      cell_rise (scalar) { values ("3.0"); } } }
"""


def test_minimal_file_and_its_unit_warning(tmp_path: Path) -> None:
    m = read_liberty(_write(tmp_path, _GF_LIKE))
    assert (m.read_energy_pj, m.write_energy_pj, m.idle_energy_pj_per_cycle) == (1.0, 2.0, 0.1)
    assert (m.words, m.word_bits, m.leakage_uw, m.clk_to_q_ns) == (16, 8, 1e-3, (3.0, 3.0))
    assert any("unit not stated" in w for w in m.warnings)
    assert m.min_period_ns is None
    macro = to_sram_macro(m)
    assert macro.min_period_ns == 3.0 and "no minimum period" in macro.source_of("min_period_ns").ref


def test_stated_unit_that_disagrees(tmp_path: Path) -> None:
    header = ('/* internal_power unit : "1e-12 * J/toggle" */\n  capacitive_load_unit (1,ff);\n  voltage_unit : "1V";\n'
              '  leakage_power_unit : "1nW";\n  nom_voltage : 1.2;\n')
    with pytest.raises(LibertyImportError, match=r"stated internal-power unit .* disagrees with capacitive_load_unit"):
        read_liberty(_write(tmp_path, _GF_LIKE, header))


def test_missing_units_and_fields(tmp_path: Path) -> None:
    with pytest.raises(LibertyImportError, match=r"capacitive_load_unit is not declared"):
        read_liberty(_write(tmp_path, _GF_LIKE, '  voltage_unit : "1V";\n  nom_voltage : 1.2;\n'))
    with pytest.raises(LibertyImportError, match=r"leakage_power_unit is not declared"):
        read_liberty(_write(tmp_path, _GF_LIKE, '  capacitive_load_unit (1,pf);\n  nom_voltage : 1.2;\n'))
    with pytest.raises(LibertyImportError, match=r"leakage_power_unit '1nA' is not a unit of W"):
        read_liberty(_write(tmp_path, _GF_LIKE, '  capacitive_load_unit (1,pf);\n  leakage_power_unit : "1nA";\n'
                                                '  nom_voltage : 1.2;\n'))
    with pytest.raises(LibertyImportError, match=r"no memory\(\) group with word_width and address_width"):
        read_liberty(_write(tmp_path, _GF_LIKE.replace("memory () { type : ram; address_width : 4; word_width : 8; }",
                                                       "")))
    with pytest.raises(LibertyImportError, match=r"no clock-to-output delay"):
        read_liberty(_write(tmp_path, _GF_LIKE.replace("rising_edge", "setup_rising")))
    with pytest.raises(LibertyImportError, match=r"no internal_power state of pin CLK matches a read"):
        read_liberty(_write(tmp_path, _GF_LIKE.replace('"!CEN & GWEN"', '"CEN & GWEN"')))
