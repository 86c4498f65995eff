"""functional_report.json and the SRAM access trace file."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np

from sramflow.funcsim.run import FunctionalResult
from sramflow.jsonio import write_json_atomic

TRACE_HEADER = "# sramflow SRAM trace v1: cycle port rw(r/w) word data(hex); one access per cycle on port 0\n"


def report_dict(r: FunctionalResult, meta: dict[str, Any]) -> dict[str, Any]:
    first = r.mismatches[0] if r.mismatches else None
    return {
        **meta,
        "bit_exact": r.bit_exact,
        "tensors_compared": r.tensors_compared,
        "mismatches": {"count": len(r.mismatches),
                       "first": None if first is None else {"tensor": first.tensor, "op": first.node,
                                                            "elements": first.elements,
                                                            "max_abs_diff": first.max_abs_diff},
                       "tensors": [m.tensor for m in r.mismatches]},
        "counts_match": r.counts_match,
        "counts": {"functional": r.counts_functional, "analytical": r.counts_analytical},
        "step_count_differences": list(r.step_count_notes),
        "clobbers": r.clobbers,
        "predicted_class": r.predicted_class,
        "logits": [float(v) for v in r.logits],
        "logits_int8": [int(v) for v in r.logits_int8],
        "sram_accesses": r.sram_accesses,
        "wall_s": round(r.wall_s, 3),
        "reference_wall_s": round(r.reference_wall_s, 3),
    }


def write_report(r: FunctionalResult, out_dir: str | Path, meta: dict[str, Any]) -> Path:
    return write_json_atomic(Path(out_dir) / "functional_report.json", report_dict(r, meta))


def write_trace(records: np.ndarray, path: str | Path, word_bytes: int) -> Path:
    """Gzipped text, one access a line: ``cycle port r|w word data`` (data as hex of the whole word)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    digits = 2 * word_bytes
    rw = np.where(records[:, 0] == 1, "w", "r")
    lines = [f"{i} 0 {k} {w} {d:0{digits}x}\n" for i, (k, w, d) in
             enumerate(zip(rw, records[:, 1].tolist(), records[:, 2].tolist()))]
    with gzip.open(path, "wt") as f:
        f.write(TRACE_HEADER)
        f.writelines(lines)
    return path


def read_trace(path: str | Path) -> np.ndarray:
    """(n, 3) int64 rows: rw (1 = write), word, data."""
    rows = []
    with gzip.open(path, "rt") as f:
        for line in f:
            if line.startswith("#"):
                continue
            _, _, k, w, d = line.split()
            rows.append((1 if k == "w" else 0, int(w), int(d, 16)))
    return np.array(rows, np.int64).reshape(-1, 3)
