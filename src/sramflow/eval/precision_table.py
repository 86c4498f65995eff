"""The measured accuracy of each ``--weight-bits`` spec (weights/precision_accuracy.json): read by the sweep and
benchmarks/bench_int4.py so a measured spec is labelled measured and every other one stays "assumed".

Every row is tied to one checkpoint by its sha256: figures of another checkpoint are never used for this one. The
top level holds the shipped checkpoint's rows; ``other_checkpoints`` the rows of others (e.g. a model trained with
INT4 fake quantization, ``python -m sramflow.train --weight-bits``), each block with its own name and sha256.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sramflow.ir.precision import canonical_weight_bits

DEFAULT_TABLE = Path(__file__).resolve().parents[3] / "weights" / "precision_accuracy.json"


@dataclass(frozen=True)
class Measured:
    entry: dict[str, Any] | None  # the table's row for the spec; None: not measured (use the assumption)
    note: str  # why it was or was not used, for the report


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def spec_key(spec: Any) -> str:
    """The table key: the canonical spec as text ("8", "4", "stem=8,...")."""
    return str(canonical_weight_bits(spec))


def measured_accuracy(spec: Any, checkpoint_sha256: str | None, table: str | Path = DEFAULT_TABLE) -> Measured:
    path = Path(table)
    if not path.is_file():
        return Measured(None, f"no measured accuracy table at {path}: accuracy assumed")
    doc = json.loads(path.read_text())
    blocks = [doc, *doc.get("other_checkpoints", [])]
    if checkpoint_sha256 is not None:
        mine = [b for b in blocks if b.get("checkpoint_sha256") == checkpoint_sha256]
        if not mine:
            return Measured(None, f"{path} was measured on checkpoint sha256 "
                                  f"{', '.join(str(b.get('checkpoint_sha256')) for b in blocks)}, not "
                                  f"{checkpoint_sha256}: not used, accuracy assumed (re-run `sramflow evaluate "
                                  f"--weight-bits SPEC` on this checkpoint)")
        doc = mine[0]
    entry = doc.get("entries", {}).get(spec_key(spec))
    if entry is None:
        return Measured(None, f"spec {spec_key(spec)} not in {path}: accuracy assumed")
    return Measured(dict(entry), f"measured ({entry['method']}, {entry['split']} split, {entry['n_images']} images)")


def _row(report: dict[str, Any], block: str, method: str) -> dict[str, Any]:
    m, ci = report[block], report["confidence_intervals"][block]
    return {"method": method, "split": report["split"], "n_images": report["n_images"],
            "resolution": report["resolution"], "accuracy": m["accuracy"], "accuracy_ci95": ci["accuracy"],
            "balanced_accuracy": m["balanced_accuracy"], "balanced_accuracy_ci95": ci["balanced_accuracy"],
            # absent in reports written before evaluate paired mixed with int8
            "minus_int8_ci95": report["confidence_intervals"].get("mixed_minus_int8") if block == "mixed" else None}


def table_from_reports(reports: list[dict[str, Any]], checkpoint: str | Path, method: str = "PTQ") -> dict[str, Any]:
    """The table from `sramflow evaluate --weight-bits SPEC --out DIR` reports of one checkpoint: the INT8 row
    ("8") from the first, one row per mixed spec."""
    entries = {"8": _row(reports[0], "int8", "INT8 post-training calibration")}
    for r in reports:
        entries[spec_key(r["weight_bits"])] = _row(r, "mixed", method)
    return {"checkpoint": Path(checkpoint).name, "checkpoint_sha256": file_sha256(checkpoint),
            "source": "sramflow evaluate --weight-bits SPEC (accuracy_report.json); intervals: 95 % paired "
                      "percentile bootstrap over lesions", "entries": entries}


def merged(doc: dict[str, Any] | None, table: dict[str, Any], add: bool = False, shipped: bool = False
           ) -> dict[str, Any]:
    """``doc`` (an existing table, or None) with ``table`` (one checkpoint's, from ``table_from_reports``) put in:
    it replaces the block of the same sha256, top level or in ``other_checkpoints``, else joins the latter. A
    table without a top-level block (None) becomes ``table`` itself. ``add``: the block's rows of other specs are
    kept (a row measured later joins those measured before). ``shipped``: ``table`` becomes the top-level block (a
    new shipped checkpoint) and the one there before joins ``other_checkpoints``, its rows kept under its hash."""
    if doc is None:
        return table
    sha = table["checkpoint_sha256"]
    if add:
        old = [b for b in (doc, *doc.get("other_checkpoints", [])) if b.get("checkpoint_sha256") == sha]
        if old:
            table = {**table, "entries": {**old[0]["entries"], **table["entries"]}}
    if shipped and doc.get("checkpoint_sha256") != sha:
        before = {k: v for k, v in doc.items() if k not in ("source", "other_checkpoints")}
        others = [b for b in doc.get("other_checkpoints", []) if b.get("checkpoint_sha256") != sha]
        return {**table, "other_checkpoints": [*others, before]}
    if doc.get("checkpoint_sha256") == sha:
        return {**table, **({"other_checkpoints": doc["other_checkpoints"]} if "other_checkpoints" in doc else {})}
    others = [b for b in doc.get("other_checkpoints", []) if b.get("checkpoint_sha256") != sha]
    block = {k: v for k, v in table.items() if k != "source"}
    return {**doc, "other_checkpoints": [*others, block]}


if __name__ == "__main__":  # python -m sramflow.eval.precision_table CHECKPOINT OUT REPORT.json... [--method M]
    import argparse

    from sramflow.jsonio import write_text_atomic

    ap = argparse.ArgumentParser(prog="python -m sramflow.eval.precision_table",
                                 description="put one checkpoint's rows into the table OUT (other checkpoints' kept)")
    ap.add_argument("checkpoint")
    ap.add_argument("out")
    ap.add_argument("reports", nargs="+", help="accuracy_report.json of `sramflow evaluate --weight-bits SPEC`")
    ap.add_argument("--method", default="PTQ", help="how the mixed rows' weights were made (PTQ, QAT ...)")
    ap.add_argument("--add", action="store_true", help="keep the checkpoint's rows of other specs")
    ap.add_argument("--shipped", action="store_true",
                    help="the checkpoint is the new shipped one: its block goes to the top level, the previous "
                         "top-level block to other_checkpoints")
    a = ap.parse_args()
    reps = [json.loads(Path(p).read_text()) for p in a.reports]
    out = Path(a.out)
    new = table_from_reports(reps, a.checkpoint, a.method)
    before = json.loads(out.read_text()) if out.is_file() else None
    write_text_atomic(out, json.dumps(merged(before, new, a.add, a.shipped), indent=1) + "\n")
