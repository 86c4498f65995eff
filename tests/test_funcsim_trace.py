"""Packing agrees with mapping.layout.word_address element by element; the SRAM trace of one small layer
replays in OpenRAM's behavioural Verilog model of the 16x128 macro (Icarus) with 0 read mismatches."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sramflow.funcsim import layout as L
from sramflow.funcsim.report import read_trace, write_trace
from sramflow.funcsim.run import run_functional
from sramflow.mapping.layout import TileLayout, word_address
from sramflow.sim.api import simulate_graph
from helpers.mapping import make_hw
from helpers.graphs import conv_graph, quantized

TB = Path(__file__).parent / "data" / "sram_replay_tb.v"
MACRO = "sky130_sram_256byte_1rw1r_16x128.v"


def test_grouped_packing_matches_word_address() -> None:
    tile = np.arange(2 * 5 * 3, dtype=np.int64).reshape(2, 5, 3).astype(np.int8)
    raw = L.pack_grouped(tile, 2, 2, "i1").reshape(-1, 2)
    lay = TileLayout(("g", "k", "c"), (2, 5, 3), 1, 2, group_axis=1, group_size=2)
    assert raw.shape[0] == lay.words
    for idx in np.ndindex(*tile.shape):
        word, lane = word_address(0, lay, idx)
        assert raw[word, lane].view(np.int8) == tile[idx]


@pytest.mark.parametrize("packed", [False, True])
def test_window_packing_matches_word_address(packed: bool) -> None:
    win = np.arange(3 * 4 * 5, dtype=np.int64).reshape(3, 4, 5).astype(np.int8)
    raw = L.pack_window(win, 2, packed).reshape(-1, 2)
    lay = TileLayout(("c", "row", "col"), (3, 4, 5), 1, 2, row_aligned=not packed)
    assert raw.shape[0] == lay.words == (30 if packed else 36)  # 60 B packed; 12 rows of 3 words aligned
    for idx in np.ndindex(*win.shape):
        word, lane = word_address(0, lay, idx)
        assert raw[word, lane].view(np.int8) == win[idx]


def _trace(tmp_path: Path) -> Path:
    g = conv_graph(c=3, k=2, hw_px=3)
    hw = make_hw()
    res = simulate_graph(g, hw)
    q, x = quantized(g)
    r = run_functional(g, q, res.schedules, x, 128, 2, trace=True)
    assert r.bit_exact and r.counts_match and r.clobbers == 0
    assert len(r.trace) == r.counts_functional["sram_reads"] + r.counts_functional["sram_writes"]
    path = write_trace(r.trace, tmp_path / "trace.txt.gz", 2)
    assert np.array_equal(read_trace(path), r.trace)
    return path


def test_trace_replays_in_openram_verilog(tmp_path: Path, shared_dir: Path) -> None:
    macro = shared_dir / "sram" / "generated_16x128" / MACRO
    if shutil.which("iverilog") is None or shutil.which("vvp") is None:
        pytest.skip("iverilog is not installed")
    if not macro.is_file():
        pytest.skip(f"{macro} is absent")
    rec = read_trace(_trace(tmp_path))
    (tmp_path / "trace.hex").write_text("".join(f"{k:01x}{w:02x}{d:04x}\n" for k, w, d in rec))
    exe = tmp_path / "tb.vvp"
    subprocess.run(["iverilog", "-o", str(exe), f"-DTRACE_LEN={len(rec)}", str(TB), str(macro)], check=True,
                   capture_output=True, text=True, timeout=60)
    out = subprocess.run(["vvp", str(exe)], cwd=tmp_path, check=True, capture_output=True, text=True, timeout=120)
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT"))
    reads = int(np.count_nonzero(rec[:, 0] == 0))
    assert line.split() == ["RESULT", f"reads={reads}", "mismatches=0"], out.stdout[-2000:]
