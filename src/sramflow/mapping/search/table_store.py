"""Tiling tables on disk: a raw array file format (``write_arrays`` / ``read_arrays``) and ``TableDisk``, the
folder of tables that the processes of a sweep and later sweeps share."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
import tempfile
import time
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

import numpy as np

from sramflow.mapping.conv import ConvShape, HwParams
from sramflow.mapping.search.tiling_table import TilingTable


TABLE_FORMAT = 2  # 2: rows carry group_h (accumulator groups over tile rows)
# the tables are a function of these modules' code: any change to them gives new disk keys
TABLE_SOURCES = ("sramflow.mapping.conv", "sramflow.mapping.search.tiling_table", "sramflow.cost.counts",
                 "sramflow.cost.model", "sramflow.cost.table")
_SHARED = ("sizes", "group_k", "group_h", "order_index", "double", "footprint_words", "rank")


@lru_cache(maxsize=1)
def _code_digest() -> str:
    h = hashlib.sha256()
    for name in TABLE_SOURCES:
        h.update(Path(importlib.import_module(name).__file__ or "").read_bytes())
    return h.hexdigest()


MAGIC = b"SRAMFLOW-TILING-TABLES\n"


def write_arrays(f: BinaryIO, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    """``MAGIC``, an 8-byte header length, a JSON header (``meta`` and each array's dtype, shape, offset), then the
    arrays' bytes (64-byte aligned offsets from the end of the header)."""
    layout, offset = {}, 0
    for name, v in arrays.items():
        v = np.ascontiguousarray(v)
        layout[name] = (v.dtype.str, list(v.shape), offset)
        offset += -(-v.nbytes // 64) * 64
    head = json.dumps({"meta": meta, "arrays": layout}).encode()
    f.write(MAGIC + len(head).to_bytes(8, "little") + head)
    for v in arrays.values():
        v = np.ascontiguousarray(v)
        f.write(memoryview(v).cast("B") if v.size else b"")  # no copy of the array
        f.write(bytes(-v.nbytes % 64))


def read_arrays(data: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """What ``write_arrays`` wrote; the arrays are read-only views of ``data``. ``ValueError`` if it is not whole."""
    if not data.startswith(MAGIC):
        raise ValueError("not a table file")
    n = int.from_bytes(data[len(MAGIC):len(MAGIC) + 8], "little")
    start = len(MAGIC) + 8 + n
    head = json.loads(data[len(MAGIC) + 8:start])
    arrays = {}
    for name, (dtype, shape, offset) in head["arrays"].items():
        count = int(np.prod(shape))
        arrays[name] = np.frombuffer(data, dtype=np.dtype(dtype), count=count, offset=start + offset).reshape(shape)
    return head["meta"], arrays


class TableDisk:
    """``tiling_tables`` results on disk (one raw file per build, ``write_arrays``), shared by the processes of a
    sweep and by later sweeps: keyed by the sha256 of (format, the code of ``TABLE_SOURCES``, the layer shape without
    its name, ``HwParams``, the burst sizes), written atomically (temporary file, rename), least recently used files
    removed beyond ``max_bytes``. A file that cannot be read is rebuilt (and rewritten)."""

    def __init__(self, folder: str | Path, max_bytes: int = 4 << 30) -> None:
        self.folder, self.max_bytes = Path(folder), max_bytes

    def path(self, shape: ConvShape, hwp: HwParams, bursts_: tuple[int, ...]) -> Path:
        text = repr((TABLE_FORMAT, _code_digest(), shape, hwp, tuple(bursts_)))
        return self.folder / f"{hashlib.sha256(text.encode()).hexdigest()[:32]}.tables"

    def load(self, shape: ConvShape, hwp: HwParams, bursts_: tuple[int, ...]) -> dict[int, TilingTable] | None:
        path = self.path(shape, hwp, bursts_)
        try:
            meta, z = read_arrays(path.read_bytes())
            out = {}
            for b in meta["bursts"]:
                counts = {f: (z[f"c{meta['array_of'][str(b)][f]}.{f}"] if f in meta["array_of"][str(b)]
                              else int(meta["ints"][str(b)][f])) for f in meta["fields"]}
                out[b] = TilingTable(tuple(tuple(o) for o in meta["orders"]), z["sizes"], z["group_k"], z["group_h"],
                                     z["order_index"], z["double"], counts, meta["enumerated_rows"],
                                     z["footprint_words"], meta["capacity_words"], z["rank"], meta["single_rows"])
            os.utime(path)  # recently used
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return out if set(out) == set(bursts_) else None

    def save(self, shape: ConvShape, hwp: HwParams, bursts_: tuple[int, ...], tables: dict[int, TilingTable]) -> None:
        first = tables[bursts_[0]]
        arrays = {k: getattr(first, k) for k in _SHARED}
        array_of: dict[str, dict[str, int]] = {}
        ints: dict[str, dict[str, int]] = {}
        for b in bursts_:
            array_of[str(b)], ints[str(b)] = {}, {}
            for f, v in tables[b].counts.items():
                if not isinstance(v, np.ndarray):
                    ints[str(b)][f] = int(v)
                    continue
                same = first.counts.get(f)
                src = bursts_[0] if isinstance(same, np.ndarray) and np.array_equal(same, v) else b
                array_of[str(b)][f] = src
                arrays.setdefault(f"c{src}.{f}", v)
        meta = {"format": TABLE_FORMAT, "bursts": list(bursts_), "fields": list(first.counts), "array_of": array_of,
                "ints": ints, "orders": [list(o) for o in first.orders], "enumerated_rows": first.enumerated_rows,
                "capacity_words": first.capacity_words, "single_rows": first.single_rows}
        path = self.path(shape, hwp, bursts_)
        try:  # a folder that cannot be written (e.g. on a remote worker) only loses the reuse
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=self.folder)
        except OSError:
            return
        try:
            with os.fdopen(fd, "wb") as f:
                write_arrays(f, meta, arrays)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            if not isinstance(sys.exc_info()[1], OSError):
                raise
            return
        self._trim()

    def _trim(self) -> None:
        """Least recently used files removed beyond ``max_bytes``; temporary files of writers killed over an hour ago
        removed."""
        for p in self.folder.glob(".*.tmp"):
            try:
                if time.time() - p.stat().st_mtime > 3600:
                    p.unlink()
            except OSError:
                pass
        files = []
        for p in self.folder.glob("*.tables"):
            try:
                st = p.stat()
            except OSError:  # removed by another process
                continue
            files.append((st.st_mtime, st.st_size, p))
        total = sum(f[1] for f in files)
        for _, size, p in sorted(files):
            if total <= self.max_bytes:
                break
            p.unlink(missing_ok=True)
            total -= size
