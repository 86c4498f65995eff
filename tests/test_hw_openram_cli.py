"""OpenRAM config export against ../shared/sram/generated_16x128, and the ``sramflow sram`` CLI."""

from __future__ import annotations

import ast
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sramflow.cli import main
from sramflow.errors import HardwareSpecError
from sramflow.hw.load import hw_from_dict, hw_to_dict, resolve_hw
from sramflow.hw.openram import openram_config, openram_config_values
from sramflow.hw.report import sram_design_report
from sramflow.hw.yamlio import load_yaml_text

SHARED = Path(__file__).resolve().parents[2] / "shared" / "sram"
GEN = SHARED / "generated_16x128"
IHP = SHARED / "ihp_sg13g2_vendor" / "RM_IHPSG13_2P_256x8_c2_bm_bist_typ_1p20V_25C.lib"


def _assignments(text: str) -> dict[str, object]:
    tree = ast.parse(text)
    return {n.targets[0].id: ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)}


@pytest.mark.parametrize(("ref_file", "ports"), [
    ("openram_config_design1_1rw.py", "1rw"), ("sky130_sram_256byte_1rw1r_16x128.py", "1rw1r")])
def test_openram_config_matches_generated(ref_file: str, ports: str) -> None:
    ref_path = GEN / ref_file
    if not ref_path.exists():
        pytest.skip("../shared/sram/generated_16x128 not present")
    expected = _assignments(ref_path.read_text())
    macro = dataclasses.replace(resolve_hw("sky130-design1").main_sram, ports=ports)
    ours = _assignments(openram_config(macro))
    assert ours == openram_config_values(macro)
    for key, value in expected.items():
        if key == "output_path":
            continue
        assert ours.get(key, 0 if key.startswith("num_spare") else None) == value, key
    assert set(ours) - set(expected) <= {"num_spare_cols", "num_spare_rows"}


def test_openram_config_errors() -> None:
    macro = resolve_hw("sky130-design1").main_sram
    with pytest.raises(HardwareSpecError, match=r"OpenRAM tech must be one of sky130, .* got 'gf180mcu'"):
        openram_config(macro, tech="gf180mcu")
    with pytest.raises(HardwareSpecError, match=r"got 'none'.*set the macro's tech or pass --tech"):
        openram_config(dataclasses.replace(macro, tech=""))
    with pytest.raises(HardwareSpecError, match=r"export one bank at a time \(banks = 2\)"):
        openram_config(dataclasses.replace(macro, banks=2))


def test_sram_design_report_numbers() -> None:
    spec = resolve_hw("sky130-design1")
    rep = sram_design_report(spec)
    m = spec.main_sram
    s = rep["sram"][0]
    assert s["size_bytes"] == 256 and s["read_energy_pj"]["source"]["kind"] == m.source.kind
    assert s["at_clock"]["read_power_mw"] == pytest.approx(m.read_energy_pj * spec.clock_mhz / 1e3)
    assert s["at_clock"]["meets_clock"] is (m.min_period_ns <= spec.cycle_ns)
    claims = rep["writeup_claims"]["fields"]["read_energy_pj"]
    assert claims["claimed"] == resolve_hw("sky130-design1-claimed").main_sram.read_energy_pj
    json.dumps(rep)  # JSON-ready
    assert sram_design_report(resolve_hw("sky130-design1-claimed"))["writeup_claims"] is None


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_sram_info_prints_the_macro_as_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, "sram", "info", "--hw", "sky130-design1")
    assert rc == 0 and "16 bits" in out and "256 bytes" in out and "[scaled]" in out and "write-up claims" in out
    rc, out, _ = _run(capsys, "sram", "info", "--hw", "zigzag-tiny", "--json")
    assert rc == 0 and json.loads(out)["sram"][0]["read_energy_pj"]["value"] == 3.0


def test_cli_info_yaml_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sramflow.hw.yamlio import dump_yaml

    p = tmp_path / "hw.yaml"
    p.write_text(dump_yaml({**hw_to_dict(resolve_hw("sky130-design1")), "name": "custom"}))
    rc, out, _ = _run(capsys, "sram", "info", "--hw", str(p), "--json")
    assert rc == 0 and json.loads(out)["hardware"] == "custom"


def test_cli_import_lib_yaml_is_a_valid_sram_entry(capsys: pytest.CaptureFixture[str]) -> None:
    if not IHP.exists():
        pytest.skip("../shared/sram not present")
    rc, out, err = _run(capsys, "sram", "import-lib", str(IHP), "--vdd", "1.8")
    assert rc == 0 and "warning" in err and "2rw" in err
    entry = load_yaml_text(out, "macro.yaml")
    spec = hw_from_dict({**hw_to_dict(resolve_hw("sky130-design1")), "sram": [entry]}, "macro.yaml")
    assert spec.main_sram.source.kind == "scaled" and spec.main_sram.vdd_v == 1.8


def test_cli_openram_config(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, "sram", "openram-config", "--hw", "sky130-design1")
    assert rc == 0 and _assignments(out)["num_spare_cols"] == 1


@pytest.mark.parametrize(("argv", "message"), [
    (("sram", "info", "--hw", "nope"), "argument --hw: 'nope' is neither a preset"),
    (("sram", "import-lib", "/nonexistent/x.lib"), "argument lib: /nonexistent/x.lib: no such file"),
    (("sram", "import-lib", __file__, "--vdd", "-1"), "argument --vdd: must be a positive finite number, got -1"),
    (("sram", "openram-config", "--macro", "other"), "no SRAM macro 'other'; macros: design1"),
    (("sram", "openram-config", "--hw", "ihp130-2p256x8"), "OpenRAM tech must be one of"),
])
def test_cli_errors_are_one_line(argv: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = _run(capsys, *argv)
    assert rc == 2 and message in err and err.count("\n") == 1 and err.startswith("sramflow: error:")


def test_cli_hw_import_is_lean() -> None:
    code = ("import sys, sramflow.cli_hw, sramflow.hw.load, sramflow.hw.report; "
            "heavy = [m for m in ('torch', 'liberty', 'sympy', 'numpy') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
