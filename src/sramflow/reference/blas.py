"""Run numpy's BLAS on one thread inside the integer reference.

The reference's matmuls are small (a B0 layer at 224 px is well under a millisecond of work); with
OpenBLAS's worker threads on a busy 2-core machine, waking a second thread for each call costs more
than the call (measured: 10x slower per layer under load). LiteRT's BUILTIN_REF also runs on one
thread, so one thread is also the fair comparison. If numpy's BLAS is not an OpenBLAS this process
can reach, ``single_thread`` does nothing (results are the same either way: only speed changes).
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator
from functools import lru_cache

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads", "openblas_set_num_threads64_",
            "openblas_set_num_threads")
_GETTERS = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads", "openblas_get_num_threads64_",
            "openblas_get_num_threads")


@lru_cache(maxsize=1)
def _openblas() -> tuple | None:
    import numpy  # noqa: F401  (loads the BLAS library)

    try:
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line.split()[-1]})
    except OSError:
        return None
    for p in paths:
        try:
            lib = ctypes.CDLL(p)
        except OSError:
            continue
        setter = next((getattr(lib, n) for n in _SETTERS if hasattr(lib, n)), None)
        getter = next((getattr(lib, n) for n in _GETTERS if hasattr(lib, n)), None)
        if setter is not None and getter is not None:
            return setter, getter
    return None


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    fns = _openblas()
    if fns is None:
        yield
        return
    setter, getter = fns
    before = int(getter())
    setter(1)
    try:
        yield
    finally:
        setter(before)
