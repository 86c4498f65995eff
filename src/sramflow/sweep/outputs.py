"""Files of a sweep, regenerated from the store (atomically): results.csv, pareto.csv, sweep.json and
plots (pareto.png, sensitivity_<parameter>.png). Points not yet evaluated appear as status "pending"."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sramflow.jsonio import write_bytes_atomic, write_json_atomic, write_text_atomic
from sramflow.sweep.evaluate import AREA_SCOPE, METRICS, PointTask
from sramflow.sweep.pareto import FRONTS, pareto_front
from sramflow.sweep.precision import accuracy_assumption
from sramflow.sweep.space import PARAMETERS, Point, SweepSpace
from sramflow.sweep.store import PointStore

RESULTS, PARETO, SUMMARY = "results.csv", "pareto.csv", "sweep.json"


def result_rows(space: SweepSpace, points: Sequence[Point], tasks: Sequence[PointTask],
                store: PointStore) -> list[dict[str, Any]]:
    stored = store.get_all()
    rows = []
    for i, (point, task) in enumerate(zip(points, tasks, strict=True)):
        s = stored.get(task.key)
        o = s.outcome if s else None
        row: dict[str, Any] = {"index": i, "key": task.key, "status": o.status if o else "pending",
                               "reason": o.reason if o else ""}
        row.update(dict(point))
        row.update({m: (o.metrics.get(m, "") if o else "") for m in METRICS})
        row["accuracy_assumption"] = accuracy_assumption(dict(point).get("weight_bits", 8))
        row["assumptions"] = "; ".join(task.assumptions) or "none (base preset values)"
        row["run_id"] = s.run_id if s else ""
        row["eval_s"] = round(o.eval_s, 6) if o else ""
        rows.append(row)
    return rows


def _csv(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def pareto_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ok = [r for r in rows if r["status"] == "ok"]
    out = []
    for front, (x, y) in FRONTS.items():
        unique = list({r["key"]: r for r in ok}.values())
        for rank, i in enumerate(pareto_front([(float(r[x]), float(r[y])) for r in unique])):
            out.append({"front": front, "x_metric": x, "y_metric": y, "rank": rank, **unique[i]})
    return out


def write_outputs(out: Path, space: SweepSpace, points: Sequence[Point], tasks: Sequence[PointTask],
                  store: PointStore, plots: bool) -> tuple[Path, ...]:
    rows = result_rows(space, points, tasks, store)
    names = [n for n, _ in space.params]
    columns = ["index", "key", "status", "reason", *names, *METRICS, "accuracy_assumption", "assumptions",
               "run_id", "eval_s"]
    paths = [write_text_atomic(out / RESULTS, _csv(rows, columns))]
    prow = pareto_rows(rows)
    paths.append(write_text_atomic(out / PARETO, _csv(prow, ["front", "x_metric", "y_metric", "rank", *columns])))
    paths.append(write_json_atomic(out / SUMMARY, _summary(space, rows, store)))
    if plots:
        paths += _plots(out, names, rows, prow)
    return tuple(paths)


def _summary(space: SweepSpace, rows: list[dict[str, Any]], store: PointStore) -> dict[str, Any]:
    status = {s: sum(r["status"] == s for r in rows) for s in ("ok", "infeasible", "pending")}
    return {
        "base": space.base,
        "space": {n: list(v) for n, v in space.params},
        "random_points": space.random_points,
        "seed": space.seed,
        "points": len(rows),
        "status": status,
        "infeasible_reasons": sorted({r["reason"] for r in rows if r["status"] == "infeasible"})[:20],
        "area_scope": AREA_SCOPE,
        "parameters": {n: PARAMETERS[n].help for n, _ in space.params},
        "runs": store.runs(),
        "files": {"results": RESULTS, "pareto": PARETO, "database": "points.sqlite"},
    }


def _plots(out: Path, names: list[str], rows: list[dict[str, Any]], prow: list[dict[str, Any]]) -> list[Path]:
    """The fronts and one sensitivity plot per parameter. Cheap by design (they are drawn at the end of every
    sweep): fixed margins instead of a tight bounding box (which draws each figure twice), titles at a fixed height
    (not placed above the tick labels' bounding boxes) and one figure reused for every sensitivity plot."""
    ok = [r for r in rows if r["status"] == "ok"]
    if not ok:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = [_pareto_png(plt, out / "pareto.png", ok, prow)]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    try:
        for name in names:
            paths.append(_sensitivity_png(fig, axes, out / f"sensitivity_{name}.png", name, ok))
    finally:
        plt.close(fig)
    return paths


def _save(fig: Any, path: Path) -> Path:
    buf = io.BytesIO()
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.13, top=0.91, wspace=0.28)
    fig.savefig(buf, format="png", dpi=110)
    return write_bytes_atomic(path, buf.getvalue())


def _pareto_png(plt: Any, path: Path, ok: list[dict[str, Any]], prow: list[dict[str, Any]]) -> Path:
    fig, axes = plt.subplots(1, len(FRONTS), figsize=(6 * len(FRONTS), 4.5))
    for ax, (front, (x, y)) in zip(axes, FRONTS.items()):
        ax.scatter([float(r[x]) for r in ok], [float(r[y]) for r in ok], s=8, c="0.6", label="feasible points")
        fr = [r for r in prow if r["front"] == front]
        ax.plot([float(r[x]) for r in fr], [float(r[y]) for r in fr], "o-", c="tab:red", ms=4, label="Pareto front")
        ax.set(xscale="log", yscale="log", xlabel=x, ylabel=y)
        ax.set_title(front.replace("_", " "), fontsize=10, y=1.01)
        ax.legend(fontsize=8)
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


def _sensitivity_png(fig: Any, axes: Any, path: Path, name: str, ok: list[dict[str, Any]]) -> Path:
    values = list(dict.fromkeys(str(r[name]) for r in ok))
    for ax, metric in zip(axes, ("latency_ms", "energy_uj")):
        ax.clear()
        data = [[float(r[metric]) for r in ok if str(r[name]) == v] for v in values]
        ax.boxplot(data, tick_labels=values)
        ax.set(yscale="log", xlabel=name, ylabel=metric)
        ax.set_title(f"{metric} vs {name} (spread over the other parameters)", fontsize=9, y=1.01)
    return _save(fig, path)
