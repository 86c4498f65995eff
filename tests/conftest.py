"""Shared test fixtures. Real data lives beside the repository in ../shared and is never committed."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
HAM_DIR = SHARED / "data" / "ham10000"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files holding a test marked ``slow`` first, each file's tests in their own order: `make test` hands whole files
    to its workers in this order (``--dist loadfile --no-loadscope-reorder``), so the long files start early and
    the many short ones even out the workers' ends (xdist's own order, most tests first, left the few-test B0@224
    and training files for last, one worker finishing them alone)."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)  # stable: the collection's order within each part


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is absent")
    return SHARED


@pytest.fixture(scope="session")
def ham_dir() -> Path:
    if not (HAM_DIR / "HAM10000_metadata.csv").is_file():
        pytest.skip("../shared/data/ham10000 is absent")
    return HAM_DIR


@pytest.fixture(scope="session")
def b0_graph_224():  # noqa: ANN201
    """EfficientNet-B0 @224, 7 classes, random weights (seed 0), built once per test process (~5 s): the
    equivalence checks on full-size layers need its shapes, not trained weights."""
    from sramflow.frontend.source import ModelSource, load_graph

    return load_graph(ModelSource(model="efficientnet_b0", num_classes=7, resolution=224)).graph


@pytest.fixture(scope="session")
def b0_int8_224(b0_graph_224, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN001, ANN201
    """(x, q): two random images (seed 0) and ``b0_graph_224`` quantized on them (~5 s), built once per test run
    (``helpers.once``: under pytest-xdist one worker builds it, the others read it); the functional B0@224 checks of
    several files need exactly this graph and input."""
    import numpy as np

    from helpers.once import built_once
    from sramflow.quant.api import quantize_graph

    g = b0_graph_224
    x = np.random.default_rng(0).standard_normal((2, *g.shape(g.input)[1:])).astype(np.float32)
    q = built_once(tmp_path_factory, "b0_int8_224", lambda: quantize_graph(g, x))
    q.check_source(g)  # quantized from this structure (another worker built the same seeded graph)
    return x, q


@pytest.fixture(scope="session")
def b0_224_simulated(b0_graph_224, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN001, ANN201
    """``simulated(preset, fusion)``: ``simulate_graph(b0_graph_224, resolve_hw(preset), "latency", fusion=fusion)``,
    each (preset, fusion) mapped once per test run (``helpers.once``; 1-3 s each, ~14 s for depth-first on
    sky130-design1-l2): the B0@224 tests of several files inspect and execute the same schedules."""
    from helpers.once import built_once
    from sramflow.hw.load import resolve_hw
    from sramflow.sim.api import simulate_graph

    done: dict = {}

    def simulated(preset: str, fusion: str = "none"):  # noqa: ANN202
        if (preset, fusion) not in done:
            done[preset, fusion] = built_once(tmp_path_factory, f"b0_224_sim_{preset}_{fusion}",
                                              lambda: simulate_graph(b0_graph_224, resolve_hw(preset), fusion=fusion))
        return done[preset, fusion]

    return simulated


@pytest.fixture(scope="session")
def b0_32_int8(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """(g, q, x): B0's structure at 32 px (random weights, seed 3), quantized on two random inputs and the first of
    them quantized (``helpers.graphs.quantized``), built once per test run (``helpers.once``): the INT4 tests of
    test_int4_weights and test_funcsim_int4 start from it."""
    from helpers.graphs import quantized
    from helpers.once import built_once
    from sramflow.frontend.source import ModelSource, load_graph

    g = load_graph(ModelSource(model="efficientnet_b0", num_classes=7, resolution=32, seed=3)).graph
    q, x = built_once(tmp_path_factory, "b0_32_int8", lambda: quantized(g))
    q.check_source(g)
    return g, q, x


@pytest.fixture(scope="session")
def lite0_32_runs(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """(folder, first): ``sramflow run`` on Lite0 at 32 px (7 classes) with no host timing, functional replay or design
    search, run twice into one folder, and the first run's JSON files (name -> text), built once per test run
    (``helpers.once``): test_run.py checks its files and that the second run repeats the first, test_run_advice.py
    that a run told to skip the design search writes none of it."""
    from helpers.once import built_once, run_folder
    from sramflow.frontend.source import ModelSource
    from sramflow.run import RunConfig, run

    def build():  # noqa: ANN202
        a = run_folder(tmp_path_factory, "lite0_32_runs")
        cfg = RunConfig(source=ModelSource(model="efficientnet_lite0", num_classes=7, resolution=32), out_dir=str(a),
                        host_baseline=False, functional=False, advise=False)
        run(cfg, quiet=True)
        first = {f.name: f.read_text() for f in a.glob("*.json")}
        run(cfg, quiet=True)
        return a, first

    return built_once(tmp_path_factory, "lite0_32_runs", build)
