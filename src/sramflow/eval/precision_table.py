"""The measured accuracy of each ``--weight-bits`` spec (weights/precision_accuracy.json): read by the sweep and
benchmarks/bench_int4.py so a measured spec is labelled measured and every other one stays "assumed".

The table is tied to one checkpoint by its sha256: figures of another checkpoint are never used for this one.
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
    if checkpoint_sha256 is not None and doc.get("checkpoint_sha256") != checkpoint_sha256:
        return Measured(None, f"{path} was measured on checkpoint sha256 {doc.get('checkpoint_sha256')}, not "
                              f"{checkpoint_sha256}: not used, accuracy assumed (re-run `sramflow evaluate "
                              f"--weight-bits SPEC` on this checkpoint)")
    entry = doc.get("entries", {}).get(spec_key(spec))
    if entry is None:
        return Measured(None, f"spec {spec_key(spec)} not in {path}: accuracy assumed")
    return Measured(dict(entry), f"measured ({entry['method']}, {entry['split']} split, {entry['n_images']} images)")
