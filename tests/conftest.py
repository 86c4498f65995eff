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
