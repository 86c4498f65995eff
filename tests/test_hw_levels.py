"""N memory levels in the hardware description: the ``memories:`` form, the old ``sram:`` + ``offchip:`` form,
and the ``sky130-design1-l2`` preset."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sramflow.cli import main
from sramflow.errors import HardwareSpecError
from sramflow.hw.load import hw_from_dict, hw_to_dict, offchip_preset, resolve_hw
from sramflow.hw.report import sram_design_report
from sramflow.hw.yamlio import dump_yaml, load_yaml_text

L2 = "sky130-design1-l2"


def _levels_doc() -> dict[str, Any]:
    """A user file in the new form: design1's macro inline, a 4 KiB second level, off-chip by name."""
    d = hw_to_dict(resolve_hw("sky130-design1"))
    l1 = d.pop("sram")[0]
    d.pop("offchip")
    l2 = copy.deepcopy(l1) | {"name": "big", "words": 512, "banks": 4}  # 4 x 512 x 16 bit = 4 KiB
    d["memories"] = [{"sram": l1}, {"sram": l2}, {"offchip": "qspi-psram"}]
    return d


def _bad(mutate, match: str) -> None:  # noqa: ANN001
    d = _levels_doc()
    mutate(d)
    with pytest.raises(HardwareSpecError, match=match):
        hw_from_dict(d, "levels.yaml")


def test_memories_form_builds_every_level_innermost_first() -> None:
    spec = hw_from_dict(load_yaml_text(dump_yaml(_levels_doc()), "levels.yaml"), "levels.yaml")
    assert [(lv.index, lv.name, lv.kind) for lv in spec.memories] == [
        (0, "registers", "registers"), (1, "design1", "sram"), (2, "big", "sram"), (3, "qspi-psram", "offchip")]
    assert [lv.size_bytes for lv in spec.memories] == [16 * 4 + 16, 256, 4096, None]
    assert spec.main_sram.name == "design1" and spec.offchip == offchip_preset("qspi-psram")
    assert spec.memories[2].port_bytes_per_cycle == 4 * 2  # 4 banks x one 16-bit word each per cycle
    assert hw_from_dict(hw_to_dict(spec)) == spec
    assert list(hw_to_dict(spec))[:4] == ["name", "description", "clock_mhz", "memories"]


@pytest.mark.parametrize(("mutate", "match"), [
    (lambda d: d["memories"].insert(1, {"srma": {}}),
     r"^levels\.yaml: memories\[1\]\.srma: unknown key; allowed: registers, sram, offchip$"),
    (lambda d: d["memories"][1]["sram"].update(read_energy_nj=d["memories"][1]["sram"].pop("read_energy_pj")),
     r"^levels\.yaml: memories\[1\]\.sram\.read_energy_nj: wrong unit: expected read_energy_pj \(in pJ\), "
     r"got read_energy_nj \(in nJ\)$"),
    (lambda d: d["memories"][1]["sram"].pop("source"), r"memories\[1\]\.sram\.source: missing provenance$"),
    (lambda d: d["memories"][1]["sram"]["field_sources"].update(area_um2={"kind": "guess", "ref": "x"}),
     r"memories\[1\]\.sram\.field_sources\.area_um2\.kind: must be one of"),
    (lambda d: d["memories"][1]["sram"].update(words=8, banks=1),
     r"memories\[1\]\.sram: level 'big' holds 16 B, no more than the level inside it \('design1', 256 B\)"),
    (lambda d: d["memories"][1]["sram"].update(words=300), r"memories\[1\]\.sram\.words: must be a power of two"),
    (lambda d: d["memories"][1]["sram"].update(name="design1", words=1024),
     r"memories\[1\]\.sram\.name: level names must be unique, 'design1' appears twice"),
    (lambda d: d["memories"].reverse(), r"memories\[0\]\.offchip: the off-chip memory must be the last"),
    (lambda d: d["memories"].pop(), r"memories\[1\]: the last \(outermost\) level must be '- offchip: \.\.\.'"),
    (lambda d: d["memories"][2].update(sram={}), r"memories\[2\]: must be a mapping with exactly one key"),
    (lambda d: d.update(memories=[]), r"^levels\.yaml: memories: must be a list"),
    (lambda d: d.update(offchip="qspi-psram"), r"^levels\.yaml: offchip: given together with 'memories:'"),
    (lambda d: d["memories"].__setitem__(2, {"offchip": "floppy"}),
     r"memories\[2\]\.offchip: unknown off-chip memory 'floppy'"),
    (lambda d: d["memories"].__setitem__(0, {"sram": "no-such-preset"}),
     r"memories\[0\]\.sram: 'no-such-preset' is not a preset"),
])
def test_memories_form_rejects_bad_input_naming_the_field(mutate, match: str) -> None:  # noqa: ANN001
    _bad(mutate, match)


def test_memories_level_may_name_a_preset_macro() -> None:
    d = _levels_doc()
    d["memories"][0] = {"sram": "sky130-design1"}
    assert hw_from_dict(d).main_sram == resolve_hw("sky130-design1").main_sram


def test_old_form_loads_unchanged_as_one_sram_level() -> None:
    spec = resolve_hw("sky130-design1")
    d = hw_to_dict(spec)
    assert "memories" not in d and {"sram", "offchip"} <= set(d)  # one-level files keep their form
    assert [lv.kind for lv in spec.memories] == ["registers", "sram", "offchip"]
    assert spec.memories[1].size_bytes == 256 and spec.memories[2].port_bytes_per_cycle == 0.4
    assert "memories" not in sram_design_report(spec)  # sram_design.json of a one-level spec keeps its keys


def test_old_form_with_several_macros_asks_for_memories() -> None:
    d = hw_to_dict(resolve_hw("sky130-design1"))
    d["sram"].append(d["sram"][0] | {"name": "second"})
    with pytest.raises(HardwareSpecError, match=r"^mine\.yaml: sram: lists 2 macros; .* 'memories:' list"):
        hw_from_dict(d, "mine.yaml")


def test_l2_preset_levels() -> None:
    spec, d1 = resolve_hw(L2), resolve_hw("sky130-design1")
    assert [lv.name for lv in spec.memories] == ["registers", "design1", "l2", "qspi-psram"]
    assert spec.main_sram == d1.main_sram and spec.offchip == d1.offchip  # design1 scratchpad, same off-chip
    assert spec.mac_array == d1.mac_array and spec.vector_unit == d1.vector_unit
    l2 = spec.sram[1]
    assert l2.size_bytes == 64 * 1024 and (l2.banks, l2.words, l2.word_bits, l2.ports) == (32, 256, 64, "1rw")
    # the stated rule: IHP 1P_256x64 at 1.2 V x (1.8/1.2)^2
    assert l2.read_energy_pj == pytest.approx(49.634 * 2.25, abs=0.01)
    assert l2.write_energy_pj == pytest.approx(63.4365 * 2.25, abs=0.01)
    assert l2.leakage_uw == pytest.approx(0.198016 * 2.25, abs=1e-4)
    assert l2.source.kind == "scaled" and "1P_256x64" in l2.source.ref
    assert {k: l2.source_of(k).kind for k in ("area_um2", "clk_to_q_ns", "min_period_ns")} == {
        "area_um2": "published", "clk_to_q_ns": "vendor", "min_period_ns": "published"}
    assert sram_design_report(spec)["memories"][2]["size_bytes"] == 65536


def test_sram_info_lists_every_level(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sram", "info", "--hw", L2]) == 0
    out = capsys.readouterr().out
    lines = [ln.split() for ln in out.splitlines() if ln.startswith("  L")]
    assert [ln[:3] for ln in lines] == [["L0", "registers", "registers"], ["L1", "design1", "sram"],
                                        ["L2", "l2", "sram"], ["L3", "qspi-psram", "offchip"]]
    assert "65,536 B" in out and "SRAM l2 (sky130, 1.8 V): 32 x 256 words x 64 bits" in out


def _with_registers(**fields: Any) -> dict[str, Any]:
    d = _levels_doc()
    regs = {"name": "registers", "size_bytes": 16 * 4 + 16, "read_energy_pj_per_byte": 0.0,
            "write_energy_pj_per_byte": 0.0, "source": {"kind": "assumed", "ref": "inside energy_pj_per_mac"}}
    d["memories"].insert(0, {"registers": regs | fields})
    return d


def test_the_mac_registers_may_be_stated_as_level_zero() -> None:
    spec = resolve_hw(L2)
    r = spec.memories[0]
    assert (r.index, r.name, r.kind, r.size_bytes) == (0, "registers", "registers", 16 * 32 // 8 + 16)
    assert (r.read_energy_pj_per_byte, r.write_energy_pj_per_byte) == (0.0, 0.0)
    assert "energy_pj_per_mac" in r.source.ref and spec.registers is not None
    d = _with_registers()
    stated = hw_from_dict(d, "levels.yaml")
    assert stated.memories[0].source.ref == "inside energy_pj_per_mac"
    assert hw_from_dict(hw_to_dict(stated)) == stated and hw_to_dict(stated)["memories"][0]["registers"]
    # what the mapper and the cost model see does not change: only the description does
    plain = hw_from_dict(_levels_doc())
    assert stated.sram == plain.sram and stated.mac_array == plain.mac_array and stated.registers is not None


@pytest.mark.parametrize("fields, match", [
    ({"size_bytes": 64}, r"memories\[0\]\.registers\.size_bytes: is 64, but mac_array holds 80 B"),
    ({"read_energy_pj_per_byte": 0.5}, r"memories\[0\]\.registers\.read_energy_pj_per_byte: must be 0: .* "
                                       r"inside mac_array\.energy_pj_per_mac"),
    ({"source": None}, r"memories\[0\]\.registers\.source"),
])
def test_a_stated_register_level_must_agree_with_the_mac_array(fields: dict, match: str) -> None:
    with pytest.raises(HardwareSpecError, match=match):
        hw_from_dict(_with_registers(**fields), "levels.yaml")


def test_the_registers_come_first() -> None:
    d = _with_registers()
    d["memories"].insert(1, d["memories"].pop(0))
    with pytest.raises(HardwareSpecError, match=r"memories\[1\]\.registers: .* must be the first"):
        hw_from_dict(d, "levels.yaml")
