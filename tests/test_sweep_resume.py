"""A sweep killed with SIGKILL and started again recomputes nothing finished and loses nothing."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.tiny_onnx import write_tiny_onnx

from sramflow.frontend.source import ModelSource, load_graph
from sramflow.sweep.run import SweepOptions, run_sweep
from sramflow.sweep.space import load_space

SPACE = """\
sram_words: [16, 32, 64, 128, 256]
sram_word_bits: [8, 16, 32]
sram_banks: [1, 2]
macs_per_cycle: [4, 16]
"""


def _stored(db: Path) -> dict[str, tuple]:
    with sqlite3.connect(db) as con:
        return {k: (run, fin, metrics) for k, run, fin, metrics in
                con.execute("SELECT key, run_id, finished_at, metrics FROM points")}


def _count(db: Path) -> int:
    try:
        return len(_stored(db))
    except sqlite3.OperationalError:  # tables not created yet
        return 0


def _results(out: Path) -> list[dict]:
    with open(out / "results.csv", newline="") as f:
        return [{k: v for k, v in r.items() if k not in ("run_id", "eval_s")} for r in csv.DictReader(f)]


def _cli(onnx: Path, space: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "sramflow", "sweep", "--onnx", str(onnx), "--space", str(space), "--out", str(out),
            "--workers", "1", "--no-progress"]


@pytest.mark.slow
def test_sigkill_then_resume(tmp_path: Path) -> None:
    onnx = write_tiny_onnx(tmp_path / "tiny.onnx")
    space = tmp_path / "sweep.yaml"
    space.write_text(SPACE)
    out = tmp_path / "killed"
    db = out / "points.sqlite"
    proc = subprocess.Popen(_cli(onnx, space, out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if db.is_file() and _count(db) >= 5:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the sweep finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    before = _stored(db)
    assert 5 <= len(before) < 60

    done = subprocess.run(_cli(onnx, space, out), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{len(before)} already stored, {60 - len(before)} computed" in done.stdout
    after = _stored(db)
    assert len(after) == 60
    assert {k: after[k] for k in before} == before  # finished points untouched: same run, time and metrics
    with sqlite3.connect(db) as con:
        runs = con.execute("SELECT points_total, points_todo FROM runs ORDER BY run_id").fetchall()
    assert runs == [(60, 60), (60, 60 - len(before))]

    loaded = load_graph(ModelSource(onnx=str(onnx)))
    info = {"model": loaded.model, "num_classes": loaded.num_classes, "resolution": loaded.resolution,
            "source": loaded.source}
    ref = tmp_path / "uninterrupted"
    run_sweep(load_space(space), loaded.graph, info, SweepOptions(ref, workers=1, progress=False))
    assert _results(out) == _results(ref)


@pytest.mark.slow
def test_cli_table_folder_flags(tmp_path: Path) -> None:
    """--tables puts the on-disk tiling tables where asked, --no-disk-tables writes none, a non-positive
    --tables-max-gb is refused with the flag's name; results are the same either way."""
    onnx = write_tiny_onnx(tmp_path / "tiny.onnx")
    space = tmp_path / "sweep.yaml"
    space.write_text("sram_words: [32, 64]\nsram_word_bits: [8, 16]\n")
    run = lambda out, *extra: subprocess.run(_cli(onnx, space, out) + list(extra),  # noqa: E731
                                             capture_output=True, text=True, timeout=300)
    a = run(tmp_path / "a", "--tables", str(tmp_path / "shared-tables"), "--tables-max-gb", "0.5")
    assert a.returncode == 0, a.stderr
    assert list((tmp_path / "shared-tables").glob("*.tables")) and not (tmp_path / "a" / "tables").exists()
    b = run(tmp_path / "b", "--no-disk-tables")
    assert b.returncode == 0, b.stderr
    assert not (tmp_path / "b" / "tables").exists()
    assert _results(tmp_path / "a") == _results(tmp_path / "b")
    bad = run(tmp_path / "c", "--tables-max-gb", "0")
    assert bad.returncode == 2 and "--tables-max-gb" in bad.stderr and "must be a positive" in bad.stderr
