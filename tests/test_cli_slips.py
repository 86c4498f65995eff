"""A slip on the command line: exit 2, one line naming the argument and the fix, no traceback, nothing run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import sramflow.api
import sramflow.run
from sramflow.cli import main
from sramflow.data.calibration import DEFAULT_SPLIT_FILE, given_or_default_split_file


@pytest.fixture
def afile(tmp_path: Path) -> Path:
    f = tmp_path / "afile"
    f.write_text("x")
    return f


@pytest.fixture(autouse=True)
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any command that gets past its argument checks fails the test loudly instead of working."""
    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("the command started working despite a bad argument")

    monkeypatch.setattr(sramflow.run, "run", refuse)
    monkeypatch.setattr(sramflow.api, "analyze", refuse)


# (argv with {file} / {dir} placeholders, the argument named, a word of the fix)
CASES = [
    (["run", "--out", "{file}"], "--out", "give a folder"),
    (["analyze", "--out", "{file}"], "--out", "give a folder"),
    (["analyze", "--out", "{file}/sub"], "--out", "which is a file"),
    (["simulate", "--out", "{file}"], "--out", "give a folder"),
    (["quantize", "--out", "{file}"], "--out", "give a folder"),
    (["verify", "--quantized", "{dir}", "--out", "{file}"], "--out", "give a folder"),
    (["evaluate", "--data", "{dir}", "--out", "{file}"], "--out", "give a folder"),
    (["sweep", "--space", "{file}", "--out", "{file}"], "--out", "give a folder"),
    (["run", "--battery-mah", "-5"], "--battery-mah", "positive"),
    (["run", "--battery-v", "0"], "--battery-v", "positive"),
    (["run", "--inferences-per-hour", "-1"], "--inferences-per-hour", "positive"),
    (["run", "--inferences-per-hour", "nan"], "--inferences-per-hour", "positive"),
    (["run", "--devices", "0"], "--devices", "positive"),
    (["run", "--calib-images", "0"], "--calib-images", "positive"),
    (["run", "--eval-limit", "-3"], "--eval-limit", "positive"),
    (["run", "--resolution", "0"], "--resolution", "positive"),
    (["run", "--num-classes", "two"], "--num-classes", "whole number"),
    (["analyze", "--sram-bytes", "0"], "--sram-bytes", "positive"),
    (["simulate", "--cycle-budget", "0"], "--cycle-budget", "positive"),
    (["simulate", "--cycle-budget", "+x%"], "--cycle-budget", "percentage"),
    (["run", "--cycle-budget", "100000"], "--cycle-budget", "percentage over the fastest"),
    (["run", "--cycle-budget", "0%"], "--cycle-budget", "positive percentage"),
    (["sweep", "--space", "{file}", "--out", "{dir}/o", "--workers", "0"], "--workers", "positive"),
    (["evaluate", "--data", "{dir}", "--batch-size", "0"], "--batch-size", "positive"),
    (["sram", "info", "--hw", "{dir}"], "--hw", "is a folder"),
    (["simulate", "--hw", "{dir}/missing.yaml"], "--hw", "neither a preset"),
    (["run", "--checkpoint", "{dir}"], "--checkpoint", "give a file"),
    (["run", "--onnx", "{dir}/missing.onnx"], "--onnx", "no such file"),
    (["evaluate", "--data", "{file}"], "--data", "give a folder"),
    (["run", "--data", "{file}"], "--data", "give a folder"),
    (["run", "--data", "{dir}/missing"], "--data", "no such folder"),
    (["quantize", "--out", "{dir}/o", "--calib-data", "{file}"], "--calib-data", "give a folder"),
    (["quantize", "--out", "{dir}/o", "--export-tflite", "{dir}"], "--export-tflite", "give a file path"),
    (["verify", "--quantized", "{file}", "--out", "{dir}/o"], "--quantized", "give a folder"),
    (["sweep", "--space", "{dir}", "--out", "{dir}/o"], "--space", "give a file"),
    (["evaluate", "--data", "{dir}", "--split-file", "{dir}"], "--split-file", "give a file"),
]


@pytest.mark.parametrize(("argv", "argument", "fix"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_slip_is_one_line_before_any_work(argv: list[str], argument: str, fix: str, afile: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    args = [a.format(file=afile, dir=tmp_path) for a in argv]
    t0 = time.perf_counter()
    rc = main(args)
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("sramflow: error: "), err
    assert f"argument {argument}:" in err and fix in err, err
    assert "Traceback" not in err
    assert time.perf_counter() - t0 < 5.0  # answered at parse time, no model loaded
    assert not (tmp_path / "o").exists()


def test_default_split_file_does_not_depend_on_the_working_directory(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert Path(DEFAULT_SPLIT_FILE).is_absolute()
    found = given_or_default_split_file(None)
    assert found is not None and found.name == "ham10000_split.json" and found.is_file()


def test_good_arguments_still_parse(tmp_path: Path) -> None:
    from sramflow.cli import build_parser

    a = build_parser().parse_args(["run", "--out", str(tmp_path / "new"), "--battery-mah", "2000",
                                   "--inferences-per-hour", "0.5", "--hw", "sky130-design1"])
    assert a.battery_mah == 2000.0 and a.inferences_per_hour == 0.5 and a.out == str(tmp_path / "new")


def test_a_run_budget_without_the_energy_objective_stops_before_any_work(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--cycle-budget", "+1%"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--cycle-budget needs --objective energy" in err, err
