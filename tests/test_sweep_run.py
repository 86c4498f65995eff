"""Sweeps end to end on a tiny ONNX network: outputs, infeasible points, reuse, pool and Dask equality."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from helpers.tiny_onnx import tiny_onnx_graph

from sramflow.sweep.errors import SweepError
from sramflow.sweep.run import SweepOptions, run_sweep
from sramflow.sweep.space import space_from_dict

SPACE = {"sram_words": [4, 64, 128], "sram_word_bits": [8, 16], "sram_ports": ["1rw", "1rw1r"],
         "clock_mhz": [100, 200]}
INFO = {"model": "tiny", "num_classes": 7, "resolution": 16, "source": "tests/helpers/tiny_onnx.py"}
VOLATILE = ("run_id", "eval_s")


def _rows(out: Path, name: str = "results.csv") -> list[dict]:
    with open(out / name, newline="") as f:
        return list(csv.DictReader(f))


def _stable(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in rows]


@pytest.fixture(scope="module")
def graph(tmp_path_factory):  # noqa: ANN001, ANN201
    return tiny_onnx_graph(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def serial(graph, tmp_path_factory):  # noqa: ANN001, ANN201
    out = tmp_path_factory.mktemp("serial")
    summary = run_sweep(space_from_dict(SPACE), graph, INFO, SweepOptions(out, workers=1, progress=False))
    return out, summary


def test_every_point_is_in_the_results(serial) -> None:  # noqa: ANN001
    out, s = serial
    rows = _rows(out)
    assert len(rows) == s.points == 24 and s.computed == 24 and s.reused == 0
    assert {r["status"] for r in rows} == {"ok", "infeasible"}
    assert s.ok + s.infeasible == 24
    for f in ("pareto.csv", "pareto.png", "sweep.json", "points.sqlite", "sensitivity_sram_words.png"):
        assert (out / f).is_file(), f


def test_infeasible_points_carry_their_reason(serial) -> None:  # noqa: ANN001
    rows = _rows(serial[0])
    tiny = [r for r in rows if r["sram_words"] == "4" and r["sram_word_bits"] == "8" and r["clock_mhz"] == "100.0"]
    assert tiny and all(r["status"] == "infeasible" and "no tile fits the 4-byte SRAM" in r["reason"] for r in tiny)
    fast = [r for r in rows if r["clock_mhz"] == "200.0"]
    assert all("minimum period" in r["reason"] for r in fast)
    ok = [r for r in rows if r["status"] == "ok"]
    assert all(float(r["latency_ms"]) > 0 and float(r["energy_uj"]) > 0 and r["reason"] == "" for r in ok)
    assert all("INT8" in r["accuracy_assumption"] for r in rows)
    summary = json.loads((serial[0] / "sweep.json").read_text())
    assert summary["status"]["ok"] == len(ok) and "SRAM macros only" in summary["area_scope"]


def test_pareto_csv_holds_the_fronts_of_the_feasible_points(serial) -> None:  # noqa: ANN001
    from sramflow.sweep.pareto import pareto_front

    out = serial[0]
    ok = [r for r in _rows(out) if r["status"] == "ok"]
    pareto = _rows(out, "pareto.csv")
    for front, (x, y) in {"latency_vs_energy": ("latency_ms", "energy_uj"),
                          "energy_vs_area": ("energy_uj", "sram_area_um2")}.items():
        want = {ok[i]["key"] for i in pareto_front([(float(r[x]), float(r[y])) for r in ok])}
        assert {r["key"] for r in pareto if r["front"] == front} == want


def test_a_rerun_recomputes_nothing(serial, graph) -> None:  # noqa: ANN001
    out, _ = serial
    before = _rows(out)
    s = run_sweep(space_from_dict(SPACE), graph, INFO, SweepOptions(out, workers=1, progress=False))
    assert s.computed == 0 and s.reused == 24
    assert _rows(out) == before


@pytest.mark.slow
def test_process_pool_equals_serial(serial, graph, tmp_path) -> None:  # noqa: ANN001
    s = run_sweep(space_from_dict(SPACE), graph, INFO, SweepOptions(tmp_path, workers=2, progress=False))
    assert s.computed == 24
    assert _stable(_rows(tmp_path)) == _stable(_rows(serial[0]))


def test_dask_local_cluster_equals_local_pool(serial, graph, tmp_path) -> None:  # noqa: ANN001
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None,
                                  silence_logs=50) as cluster:
        s = run_sweep(space_from_dict(SPACE), graph, INFO,
                      SweepOptions(tmp_path, executor="dask", address=cluster.scheduler_address, progress=False))
    assert s.computed == 24
    assert _stable(_rows(tmp_path)) == _stable(_rows(serial[0]))


def test_executor_options_are_checked(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(SweepError, match="give its scheduler with --address"):
        SweepOptions(tmp_path, executor="dask")
    with pytest.raises(SweepError, match="--objective must be one of"):
        SweepOptions(tmp_path, objective="speed")


@pytest.mark.slow
def test_a_later_sweep_reads_the_tables_from_disk(graph, tmp_path) -> None:  # noqa: ANN001
    """Tiling tables go to --out/tables; a later sweep (here another objective, in fresh worker processes) reads them
    instead of building and gets the results of a sweep without disk tables."""
    space = space_from_dict(SPACE)
    first = run_sweep(space, graph, INFO, SweepOptions(tmp_path / "a", workers=2, progress=False))
    assert first.tiling_cache_misses > 0 and list((tmp_path / "a" / "tables").glob("*.tables"))
    again = run_sweep(space, graph, INFO, SweepOptions(tmp_path / "b", objective="energy", workers=2, progress=False,
                                                       tables_dir=tmp_path / "a" / "tables"))
    assert again.tiling_cache_misses == 0 and again.tiling_cache_loaded > 0
    fresh = run_sweep(space, graph, INFO, SweepOptions(tmp_path / "c", objective="energy", workers=1, progress=False,
                                                       disk_tables=False))
    assert not (tmp_path / "c" / "tables").exists() and not (tmp_path / "b" / "tables").exists()
    assert fresh.computed == again.computed and _stable(_rows(tmp_path / "b")) == _stable(_rows(tmp_path / "c"))
