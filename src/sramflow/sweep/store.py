"""Per-point persistence: one SQLite row per finished point, keyed by the hash of its full configuration.

Only the sweep's parent process writes, one transaction per point, in WAL mode with synchronous=NORMAL:
a process killed with SIGKILL (even mid-write) loses at most the points still being computed; every
committed row survives (an OS crash or power loss may lose the last commits, which are then recomputed).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sramflow.sweep.errors import SweepError

SCHEMA_VERSION = 1
STATUSES = ("ok", "infeasible")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT, started_at REAL NOT NULL, executor TEXT NOT NULL,
    points_total INTEGER NOT NULL, points_todo INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS points (
    key TEXT PRIMARY KEY, params TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL,
    metrics TEXT NOT NULL, assumptions TEXT NOT NULL, run_id INTEGER NOT NULL, worker TEXT NOT NULL,
    eval_s REAL NOT NULL, finished_at REAL NOT NULL);
"""


def config_key(config: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of a point's full configuration."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PointOutcome:
    key: str
    params: Mapping[str, Any]
    status: str  # "ok" | "infeasible"
    reason: str  # why infeasible ("" when ok)
    metrics: Mapping[str, Any]
    assumptions: tuple[str, ...]
    worker: str
    eval_s: float
    tiling_cache_hits: int = 0  # this point's layer searches that reused cached counts (not stored)
    tiling_cache_derived: int = 0  # ... that filtered a larger SRAM's cached counts
    tiling_cache_misses: int = 0  # ... that enumerated the tilings
    tiling_cache_loaded: int = 0  # ... of the hits, tables read from the on-disk table cache


@dataclass(frozen=True)
class StoredPoint:
    outcome: PointOutcome
    run_id: int
    finished_at: float


class PointStore:
    """The sweep's ``points.sqlite``. Use as a context manager."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise SweepError(f"{self.path}: cannot open the sweep database: {exc}") from None
        self._check_schema()

    def _check_schema(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE name='schema'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        elif row[0] != str(SCHEMA_VERSION):
            raise SweepError(f"{self.path}: schema {row[0]}, this sramflow writes {SCHEMA_VERSION}; use a new --out")

    def __enter__(self) -> PointStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def start_run(self, executor: str, total: int, todo: int) -> int:
        cur = self._db.execute("INSERT INTO runs (started_at, executor, points_total, points_todo) VALUES (?,?,?,?)",
                               (time.time(), executor, total, todo))
        return int(cur.lastrowid)

    def done_keys(self, keys: Iterable[str]) -> set[str]:
        wanted = set(keys)
        return {k for (k,) in self._db.execute("SELECT key FROM points") if k in wanted}

    def put(self, o: PointOutcome, run_id: int) -> None:
        if o.status not in STATUSES:
            raise SweepError(f"point {o.key[:12]}: status {o.status!r} is not one of {STATUSES}")
        with self._db:  # one transaction per point
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT INTO points VALUES (?,?,?,?,?,?,?,?,?,?)",
                (o.key, json.dumps(dict(o.params)), o.status, o.reason, json.dumps(dict(o.metrics)),
                 json.dumps(list(o.assumptions)), run_id, o.worker, o.eval_s, time.time()))

    def get_all(self) -> dict[str, StoredPoint]:
        out = {}
        for row in self._db.execute("SELECT key, params, status, reason, metrics, assumptions, run_id, worker, "
                                    "eval_s, finished_at FROM points"):
            key, params, status, reason, metrics, assumptions, run_id, worker, eval_s, finished = row
            o = PointOutcome(key, json.loads(params), status, reason, json.loads(metrics),
                             tuple(json.loads(assumptions)), worker, eval_s)
            out[key] = StoredPoint(o, run_id, finished)
        return out

    def runs(self) -> list[dict[str, Any]]:
        cols = ("run_id", "started_at", "executor", "points_total", "points_todo")
        return [dict(zip(cols, r)) for r in self._db.execute(f"SELECT {', '.join(cols)} FROM runs ORDER BY run_id")]
