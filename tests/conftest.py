"""Shared test fixtures. Real data lives beside the repository in ../shared and is never committed."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
HAM_DIR = SHARED / "data" / "ham10000"


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
    """(x, q): two random images (seed 0) and ``b0_graph_224`` quantized on them (~5 s), built once per test run. Under
    pytest-xdist the first worker to need it writes it to the run's shared temporary folder (under a lock) and the
    other workers read it; the functional B0@224 checks of several files need exactly this graph and input."""
    import fcntl
    import os
    import pickle

    import numpy as np

    from sramflow.quant.api import quantize_graph

    g = b0_graph_224
    x = np.random.default_rng(0).standard_normal((2, *g.shape(g.input)[1:])).astype(np.float32)
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return x, quantize_graph(g, x)
    path = tmp_path_factory.getbasetemp().parent / "b0_int8_224.pkl"  # this run's folder, shared by its workers
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.is_file():
            q = pickle.loads(path.read_bytes())
        else:
            q = quantize_graph(g, x)
            path.write_bytes(pickle.dumps(q))
    q.check_source(g)  # quantized from this structure (the other worker built the same seeded graph)
    return x, q
