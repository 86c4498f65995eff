"""Hardware description: presets load and round-trip; every bad input gives an error naming the field."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest

from sramflow.errors import HardwareSpecError
from sramflow.hw.load import (
    hw_from_dict,
    hw_to_dict,
    list_offchip_presets,
    list_presets,
    offchip_preset,
    resolve_hw,
)
from sramflow.hw.spec import HardwareSpec
from sramflow.hw.yamlio import dump_yaml, load_yaml_text

SHARED = Path(__file__).resolve().parents[2] / "shared"


def test_presets_listed_default_first() -> None:
    names = list_presets()
    assert names[0] == "sky130-design1"
    assert {"sky130-design1", "sky130-design1-claimed", "ihp130-2p256x8", "zigzag-tiny"} <= set(names)


@pytest.mark.parametrize("name", list_presets())
def test_preset_loads_and_round_trips(name: str) -> None:
    spec = resolve_hw(name)
    assert isinstance(spec, HardwareSpec) and spec.name == name
    d = hw_to_dict(spec)
    assert hw_from_dict(d) == spec
    assert hw_from_dict(load_yaml_text(dump_yaml(d), "rt.yaml")) == spec


@pytest.mark.parametrize("name", list_presets())
def test_every_number_has_provenance(name: str) -> None:
    spec = resolve_hw(name)
    for comp in (*spec.sram, spec.offchip, spec.mac_array, spec.vector_unit):
        checked = 0
        for f in dataclasses.fields(comp):
            if isinstance(getattr(comp, f.name), float):
                src = comp.source_of(f.name)
                assert src.ref.strip(), (name, f.name)
                checked += 1
        assert checked > 0, (name, type(comp).__name__)  # each component has priced figures to source


@pytest.mark.parametrize("name", list_offchip_presets())
def test_offchip_presets(name: str) -> None:
    mem = offchip_preset(name)
    assert mem.name == name and mem.bandwidth_bytes_per_cycle > 0
    assert mem.read_energy_pj_per_byte > 0 and mem.write_energy_pj_per_byte > 0, name  # off-chip traffic is priced
    assert mem.source_of("read_energy_pj_per_byte").ref.strip(), name


def test_design1_organization_and_claims() -> None:
    d1, claimed = resolve_hw("sky130-design1"), resolve_hw("sky130-design1-claimed")
    m, c = d1.main_sram, claimed.main_sram
    assert (m.word_bits, m.words, m.ports, m.size_bytes, d1.clock_mhz) == (16, 128, "1rw", 256, 100.0)
    assert (c.word_bits, c.words, c.ports) == (m.word_bits, m.words, m.ports)
    assert c.source.kind == "claimed" and m.source.kind != "claimed"
    # 12.3 mW at 100 MHz is 123 pJ per access: the claimed preset stores energies, not powers.
    assert c.read_energy_pj * claimed.clock_mhz / 1e3 == pytest.approx(12.3)
    assert c.write_energy_pj * claimed.clock_mhz / 1e3 == pytest.approx(15.8)
    assert c.leakage_uw / 1e3 == pytest.approx(2.3)
    assert c.read_energy_pj > 3 * m.read_energy_pj
    assert d1.mac_array == claimed.mac_array and d1.offchip == claimed.offchip


def test_zigzag_preset_matches_anchor_yaml() -> None:
    path = SHARED / "anchors" / "zigzag" / "tiny_sram_accel.yaml"
    if not path.exists():
        pytest.skip("shared ZigZag anchor not present")
    zz = load_yaml_text(path.read_text(), path.name)
    spec = resolve_hw("zigzag-tiny")
    sram = zz["memories"]["sram_256B"]
    port_bits = sram["ports"][0]["bandwidth_min"]
    m = spec.main_sram
    assert m.word_bits == port_bits and m.word_bits * m.words == sram["size"]
    assert (m.read_energy_pj, m.write_energy_pj) == (sram["r_cost"], sram["w_cost"])
    off = zz["memories"]["offchip_4MB"]
    off_bits = off["ports"][0]["bandwidth_min"]
    assert spec.offchip.bandwidth_bytes_per_cycle == off_bits / 8
    assert spec.offchip.read_energy_pj_per_byte == off["r_cost"] / (off_bits / 8)
    arr = zz["operational_array"]
    assert spec.mac_array.macs_per_cycle == arr["sizes"][0] * arr["sizes"][1]
    assert spec.mac_array.energy_pj_per_mac == arr["unit_energy"]
    assert spec.mac_array.accumulator_bits == zz["memories"]["reg_O"]["size"]
    # no register level for the input operands (I1, I2): only the SRAM and off-chip memory hold them
    input_regs = [n for n, mem in zz["memories"].items() if {"I1", "I2"} & set(mem["operands"])
                  and n not in ("sram_256B", "offchip_4MB")]
    assert input_regs == [] and spec.mac_array.input_register_bytes == 0


def test_resolve_yaml_path(tmp_path: Path) -> None:
    d = hw_to_dict(resolve_hw("sky130-design1"))
    d["name"] = "mine"
    p = tmp_path / "mine.yaml"
    p.write_text(dump_yaml(d))
    assert resolve_hw(str(p)).name == "mine"


def test_offchip_by_name_in_yaml() -> None:
    d = hw_to_dict(resolve_hw("sky130-design1"))
    d["offchip"] = "lpddr4"
    assert hw_from_dict(d).offchip == offchip_preset("lpddr4")


# ---------------------------------------------------------------- bad input


def _base() -> dict:
    return copy.deepcopy(hw_to_dict(resolve_hw("sky130-design1")))


def _bad(mutate, match: str) -> None:  # noqa: ANN001
    d = _base()
    mutate(d)
    with pytest.raises(HardwareSpecError, match=match):
        hw_from_dict(d, "design.yaml")


def test_words_not_power_of_two() -> None:
    _bad(lambda d: d["sram"][0].update(words=100), r"^design\.yaml: sram\[0\]\.words: must be a power of two, got 100$")


def test_words_not_power_of_two_allowed_when_macro_says_so() -> None:
    d = _base()
    d["sram"][0].update(words=100, power_of_two_words=False)
    assert hw_from_dict(d).main_sram.words == 100


@pytest.mark.parametrize("field", ["word_bits", "words", "banks"])
@pytest.mark.parametrize("value", [0, -4])
def test_non_positive_sizes(field: str, value: int) -> None:
    _bad(lambda d: d["sram"][0].update({field: value}), rf"design\.yaml: sram\[0\]\.{field}: must be positive")


def test_negative_energy() -> None:
    _bad(lambda d: d["sram"][0].update(read_energy_pj=-1.0),
         r"sram\[0\]\.read_energy_pj: must not be negative, got -1.0")


def test_zero_bandwidth_and_clock() -> None:
    _bad(lambda d: d["offchip"].update(bandwidth_bytes_per_cycle=0),
         r"offchip\.bandwidth_bytes_per_cycle: must be positive")
    _bad(lambda d: d.update(clock_mhz=0), r"design\.yaml: clock_mhz: must be positive")


def test_zero_macs() -> None:
    _bad(lambda d: d["mac_array"].update(macs_per_cycle=0), r"mac_array\.macs_per_cycle: must be positive")


def test_word_bits_not_bytes() -> None:
    _bad(lambda d: d["sram"][0].update(word_bits=12), r"sram\[0\]\.word_bits: must be a multiple of 8, got 12")


def test_unknown_key() -> None:
    _bad(lambda d: d["sram"][0].update(colour="red"), r"sram\[0\]\.colour: unknown key; allowed: name, word_bits")
    _bad(lambda d: d.update(extra=1), r"design\.yaml: extra: unknown key")


@pytest.mark.parametrize(("wrong", "right"), [
    ("read_energy_mw", "read_energy_pj"), ("read_energy_nj", "read_energy_pj"),
    ("leakage_mw", "leakage_uw"), ("clk_to_q_ps", "clk_to_q_ns")])
def test_wrong_unit(wrong: str, right: str) -> None:
    def mutate(d: dict) -> None:
        d["sram"][0][wrong] = d["sram"][0].pop(right)
    _bad(mutate, rf"sram\[0\]\.{wrong}: wrong unit: expected {right}")


def test_wrong_unit_top_and_offchip() -> None:
    _bad(lambda d: d.update(clock_ghz=d.pop("clock_mhz")), r"clock_ghz: wrong unit: expected clock_mhz \(in MHz\)")
    _bad(lambda d: d["offchip"].update(bandwidth_bits_per_cycle=d["offchip"].pop("bandwidth_bytes_per_cycle")),
         r"offchip\.bandwidth_bits_per_cycle: wrong unit: expected bandwidth_bytes_per_cycle")


def test_missing_provenance() -> None:
    _bad(lambda d: d["sram"][0].pop("source"), r"design\.yaml: sram\[0\]\.source: missing provenance")
    _bad(lambda d: d["mac_array"].pop("source"), r"mac_array\.source: missing provenance")


def test_bad_provenance() -> None:
    _bad(lambda d: d["sram"][0].update(source="OpenRAM"), r"sram\[0\]\.source: provenance must be a mapping")
    _bad(lambda d: d["sram"][0].update(source={"kind": "guess", "ref": "x"}),
         r"sram\[0\]\.source\.kind: must be one of measured")
    _bad(lambda d: d["sram"][0].update(source={"kind": "vendor", "ref": " "}), r"sram\[0\]\.source\.ref: must say")
    _bad(lambda d: d["sram"][0].update(source={"kind": "vendor"}), r"sram\[0\]\.source\.ref: missing")
    _bad(lambda d: d["sram"][0]["field_sources"].update(leakage_mw={"kind": "vendor", "ref": "x"}),
         r"sram\[0\]\.field_sources\.leakage_mw: wrong unit: expected leakage_uw")


def test_wrong_types() -> None:
    _bad(lambda d: d["sram"][0].update(words="128"), r"sram\[0\]\.words: must be a positive int, got '128'")
    _bad(lambda d: d["sram"][0].update(words=128.0), r"sram\[0\]\.words: must be a positive int")
    _bad(lambda d: d["sram"][0].update(banks=True), r"sram\[0\]\.banks: must be a positive int, got True")
    _bad(lambda d: d["sram"][0].update(ports="2rw"), r"sram\[0\]\.ports: must be one of 1rw, 1rw1r, got '2rw'")
    _bad(lambda d: d["sram"][0].update(double_buffering="yes"), r"double_buffering: must be true or false")
    _bad(lambda d: d.update(sram=[]), r"design\.yaml: sram: must be a list of one or more macros")
    _bad(lambda d: d.update(mac_array=[1]), r"design\.yaml: mac_array: must be a mapping")


def test_missing_field_and_duplicate_macro() -> None:
    _bad(lambda d: d["sram"][0].pop("words"), r"sram\[0\]\.words: missing$")
    _bad(lambda d: d.pop("offchip"), r"design\.yaml: offchip: missing$")
    _bad(lambda d: d["sram"].append(copy.deepcopy(d["sram"][0])), r"sram: macro names must be unique")
    _bad(lambda d: d.update(offchip="floppy"), r"offchip: unknown off-chip memory 'floppy'; known: qspi-psram")


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    p = tmp_path / "dup.yaml"
    p.write_text("name: a\nclock_mhz: 100\nclock_mhz: 200\n")
    with pytest.raises(HardwareSpecError, match=r"^dup\.yaml: duplicate key 'clock_mhz' at line 3 \(first at line 2\)"):
        resolve_hw(str(p))


def test_duplicate_nested_key(tmp_path: Path) -> None:
    text = dump_yaml(_base()).replace("  words: 128\n", "  words: 128\n  words: 64\n")
    p = tmp_path / "nested.yaml"
    p.write_text(text)
    with pytest.raises(HardwareSpecError, match=r"nested\.yaml: duplicate key 'words'"):
        resolve_hw(str(p))


def test_not_yaml_and_not_mapping(tmp_path: Path) -> None:
    p = tmp_path / "broken.yaml"
    p.write_text("name: [unclosed\n")
    with pytest.raises(HardwareSpecError, match=r"broken\.yaml: not valid YAML"):
        resolve_hw(str(p))
    p.write_text("- 1\n- 2\n")
    with pytest.raises(HardwareSpecError, match=r"broken\.yaml: the top level must be a mapping, got list"):
        resolve_hw(str(p))


def test_unknown_preset_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(HardwareSpecError, match=r"unknown hardware 'nope': not a preset \(sky130-design1"):
        resolve_hw("nope")
    with pytest.raises(HardwareSpecError, match=r"gone\.yaml: no such file"):
        resolve_hw(str(tmp_path / "gone.yaml"))
    with pytest.raises(HardwareSpecError, match=r"unknown off-chip memory 'x'"):
        offchip_preset("x")


# ---------------------------------------------------------------- mac_array.input_register_bytes


def test_input_register_bytes_declared_in_every_preset_with_its_source() -> None:
    from sramflow.hw.load import _preset_dir

    want = {"sky130-design1": 16, "sky130-design1-claimed": 16, "ihp130-2p256x8": 16, "zigzag-tiny": 0}
    for name in list_presets():
        raw = load_yaml_text(_preset_dir().joinpath(f"{name}.yaml").read_text(encoding="utf-8"), name)
        assert "input_register_bytes" in raw["mac_array"], name  # stated, not defaulted
        mac = resolve_hw(name).mac_array
        assert "input_register_bytes" in mac.field_sources, name  # its own reason
        if name in want:
            assert mac.input_register_bytes == want[name], name
    zz = resolve_hw("zigzag-tiny").mac_array.source_of("input_register_bytes")
    assert zz.kind == "assumed" and "tiny_sram_accel.yaml" in zz.ref


def test_input_register_bytes_user_file(tmp_path: Path) -> None:
    from sramflow.mapping.search.tiling_table import hw_params

    d = _base()
    d["mac_array"]["input_register_bytes"] = 8
    spec = hw_from_dict(d, "design.yaml")
    assert spec.mac_array.input_register_bytes == 8 and hw_params(spec).input_row_bytes == 8
    del d["mac_array"]["input_register_bytes"]
    d["mac_array"]["field_sources"].pop("input_register_bytes")
    spec = hw_from_dict(d, "design.yaml")  # omitted in a user file: 0, no input operand registers
    assert spec.mac_array.input_register_bytes == 0 and hw_params(spec).input_row_bytes == 0
    # the error names the file and the field
    d["mac_array"]["input_register_bytes"] = -1
    path = tmp_path / "mine.yaml"
    path.write_text(dump_yaml(d), encoding="utf-8")
    with pytest.raises(HardwareSpecError, match=r"^mine\.yaml: mac_array\.input_register_bytes: must not be negative"):
        resolve_hw(str(path))


def test_input_register_bytes_bad_values() -> None:
    _bad(lambda d: d["mac_array"].update(input_register_bytes=-16),
         r"^design\.yaml: mac_array\.input_register_bytes: must not be negative, got -16$")
    _bad(lambda d: d["mac_array"].update(input_register_bytes=1.5),
         r"design\.yaml: mac_array\.input_register_bytes: must be a int >= 0, got 1\.5")
    _bad(lambda d: d["mac_array"].update(input_register_bytes="16"), r"mac_array\.input_register_bytes: must be a int")
    _bad(lambda d: d["mac_array"].update(input_register_bytes=True), r"mac_array\.input_register_bytes: must be a int")
    _bad(lambda d: d["mac_array"].update(input_registers=16), r"design\.yaml: mac_array\.input_registers: unknown key")
    _bad(lambda d: d["mac_array"].update(input_register_bits=d["mac_array"].pop("input_register_bytes")),
         r"mac_array\.input_register_bits: wrong unit: expected input_register_bytes")


def test_shipped_preset_must_state_input_register_bytes() -> None:
    from sramflow.hw.load import check_preset_fields

    d = _base()
    check_preset_fields(d, "preset x")
    del d["mac_array"]["input_register_bytes"]
    with pytest.raises(HardwareSpecError, match=r"^preset x: mac_array\.input_register_bytes: missing"):
        check_preset_fields(d, "preset x")
