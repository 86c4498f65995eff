"""Mixup / CutMix (``sramflow.train.mix``): off is the unmixed batch itself; on, the soft targets carry exactly the
share of each image in the blend, and the draws come from the run's generator only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sramflow.train.mix import mix_batch


def _batch(n: int = 6, hw: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 3, hw, hw, generator=g), torch.tensor([0, 1, 2, 3, 4, 5][:n])


def test_off_returns_the_batch_and_its_labels() -> None:
    x, y = _batch()
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    xm, t = mix_batch(x, y, 7, rng, 0.0, 0.0)
    assert xm is x and t is y and rng.bit_generator.state == state  # no draw: an unmixed run's sequence is kept


def _partner(t: torch.Tensor, y: torch.Tensor, i: int) -> int:
    """The batch index image ``i`` was blended with, from its soft target (labels are distinct here): ``i`` itself
    where the permutation left it in place (its own label then has all the mass)."""
    others = [int(k) for k in (t[i] > 0).nonzero().flatten() if int(k) != int(y[i])]
    return i if not others else int((y == others[0]).nonzero())


def test_mixup_targets_match_the_blend() -> None:
    x, y = _batch()
    for seed in range(5):
        xm, t = mix_batch(x, y, 7, np.random.default_rng(seed), 0.4, 0.0)
        assert torch.allclose(t.sum(1), torch.ones(6))
        lams = {round(float(t[i, y[i]]), 6) for i in range(6) if _partner(t, y, i) != i}
        assert len(lams) == 1 and 0 < next(iter(lams)) < 1, seed  # one lam for the batch
        for i in range(6):
            j, lam = _partner(t, y, i), float(t[i, y[i]])
            assert torch.allclose(xm[i], lam * x[i] + (1 - lam) * x[j], atol=1e-6), (seed, i)


def test_cutmix_pastes_one_box_whose_area_is_the_target_share() -> None:
    x, y = _batch(hw=16)
    for seed in range(5):
        xm, t = mix_batch(x, y, 7, np.random.default_rng(seed), 0.0, 1.0)
        assert torch.allclose(t.sum(1), torch.ones(6))
        moved = [i for i in range(6) if _partner(t, y, i) != i]
        assert moved, seed
        box = (xm != x).any(1)[moved].any(0)  # (h, w): pixels taken from another image, the same box for all
        rows, cols = box.any(1).nonzero().flatten(), box.any(0).nonzero().flatten()
        assert box[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].all()  # a rectangle
        area = rows.numel() * cols.numel() / 256
        for i in range(6):
            j = _partner(t, y, i)
            assert float(t[i, y[i]]) == pytest.approx(1.0 if j == i else 1 - area), (seed, i)
            inside = torch.zeros(16, 16, dtype=torch.bool)
            inside[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] = True
            assert torch.equal(xm[i][:, inside], x[j][:, inside]) and torch.equal(xm[i][:, ~inside], x[i][:, ~inside])


def test_same_generator_state_same_mix_and_both_modes_drawn() -> None:
    x, y = _batch()
    a = mix_batch(x, y, 7, np.random.default_rng(3), 0.2, 1.0)
    b = mix_batch(x, y, 7, np.random.default_rng(3), 0.2, 1.0)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    rng, kinds = np.random.default_rng(0), set()
    for _ in range(20):
        xm, _ = mix_batch(x, y, 7, rng, 0.2, 1.0)
        kinds.add("cutmix" if bool(((xm == x).all(1)).any()) else "mixup")  # CutMix leaves pixels untouched
    assert kinds == {"mixup", "cutmix"}


@pytest.mark.parametrize("flag", ["--mixup", "--cutmix"])
def test_mix_flags_are_base_stage_only_and_checked(flag: str, capsys: pytest.CaptureFixture) -> None:
    from sramflow.train.__main__ import main

    with pytest.raises(SystemExit):
        main(["--data", "d", "--qat-from", "x.safetensors", flag, "0.2"])
    assert "base-stage options" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--data", "d", flag, "-1"])
    assert "alpha must be >= 0" in capsys.readouterr().err
