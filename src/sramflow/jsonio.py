"""Atomic output writing: a killed run never leaves a half-written file that looks complete."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and an atomic rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs are ordinary files
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return target


def write_text_atomic(path: str | Path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    """Deterministic JSON (sorted keys are NOT used: field order is meaningful to readers). Inside a
    ``provenance_scope`` a dict gets the scope's top-level ``provenance`` object (unless it has one)."""
    prov = _PROVENANCE.get()
    if prov is not None and isinstance(obj, dict) and "provenance" not in obj:
        obj = {**obj, "provenance": prov.to_dict()}
    return write_text_atomic(path, json.dumps(obj, indent=2, allow_nan=False) + "\n")


# ---------------------------------------------------------------- provenance
# Every JSON output says what made it: the sramflow version, the git commit of a checkout, the command line and the
# sha256 of each input file. The command (CLI or API) opens a scope; every write_json_atomic inside it adds the
# top-level ``provenance`` object, so writers deep in the flow need no extra argument.

_PROVENANCE: ContextVar[Provenance | None] = ContextVar("sramflow_provenance", default=None)
_REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class InputFile:
    role: str  # "checkpoint", "onnx", "hardware", "offchip_presets", ...
    path: str
    sha256: str


@dataclass(frozen=True)
class Provenance:
    sramflow_version: str
    git_commit: str | None  # None outside a git checkout
    command: str
    inputs: tuple[InputFile, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"sramflow_version": self.sramflow_version, "git_commit": self.git_commit, "command": self.command,
                "inputs": {i.role: {"path": i.path, "sha256": i.sha256} for i in self.inputs}}


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def input_file(role: str, path: str | Path | None) -> tuple[InputFile, ...]:
    """The file as an input record, or nothing when there is no such file (a preset name, a built-in model)."""
    if path is None or not Path(path).is_file():
        return ()
    return (InputFile(role, str(path), sha256_file(path)),)


@cache
def git_commit() -> str | None:
    """HEAD of the checkout sramflow runs from (with '-dirty' when tracked files differ), or None."""
    if not (_REPO_ROOT / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(_REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(_REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}-dirty" if dirty else head


def make_provenance(command: str, inputs: tuple[InputFile, ...] = ()) -> Provenance:
    from sramflow import __version__

    return Provenance(__version__, git_commit(), command, inputs)


def current_provenance() -> Provenance | None:
    return _PROVENANCE.get()


@contextmanager
def provenance_scope(prov: Provenance) -> Iterator[Provenance]:
    token = _PROVENANCE.set(prov)
    try:
        yield prov
    finally:
        _PROVENANCE.reset(token)
