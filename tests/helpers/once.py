"""``built_once``: an expensive, deterministic test object (a quantized graph, a mapping result) built once per test
run even under pytest-xdist, where every worker builds its own session fixtures: the first worker to need it builds
it and leaves a pickle in the run's shared temporary folder (under a lock), the other workers read that."""

from __future__ import annotations

import fcntl
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[], T]) -> T:
    """``build()``, or what another worker of this run built under the same ``name`` (a file name stem)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return build()
    folder = tmp_path_factory.getbasetemp().parent  # this run's folder, shared by its workers (gw0, gw1, ...)
    path = folder / f"{name}.pkl"
    with open(folder / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second worker waits for the first one's build instead of repeating it
        if path.is_file():
            return pickle.loads(path.read_bytes())
        obj = build()
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(obj))
        tmp.replace(path)
        return obj


def run_folder(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A folder for outputs ``built_once`` makes under ``name``: in this run's folder shared by the xdist workers (the
    one that builds writes it, the others read it), or the usual fresh temporary folder without xdist."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return tmp_path_factory.mktemp(name)
    return tmp_path_factory.getbasetemp().parent / name
