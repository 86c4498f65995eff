"""The QAT stage on a tiny synthetic HAM10000 at 32 px: fake quant wires in, trains, the checkpoint loads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.ham import write_ham
from sramflow.eval.evaluate import checkpoint_header
from sramflow.models.checkpoint import load_checkpoint
from sramflow.models.efficientnet import build_model
from sramflow.train.__main__ import main
from sramflow.train.loop import TrainConfig, checkpoint_metadata, save_safetensors
from sramflow.train.qat import (fake_quant_range, fake_quant_sigmoid, fake_quant_weight, init_ranges, insert_fake_quant,
                                remove_fake_quant)


def test_fake_quant_grids() -> None:
    x = torch.linspace(-1.0, 3.0, 1001, requires_grad=True)
    q = fake_quant_range(x, -1.0, 3.0)
    assert len(torch.unique(q.detach())) <= 256
    assert torch.allclose(q.detach(), x.detach(), atol=4.0 / 255 / 2 + 1e-6)
    q.sum().backward()
    assert torch.all(x.grad == 1.0)  # straight-through
    s = fake_quant_sigmoid(torch.sigmoid(torch.linspace(-8, 8, 999)))
    assert torch.allclose(s * 256, torch.round(s * 256)) and float(s.max()) <= 255 / 256
    w = torch.randn(4, 3, 3, 3)
    wq = fake_quant_weight(w)
    scale = w.abs().amax(dim=(1, 2, 3)) / 127
    k = wq / scale.view(-1, 1, 1, 1)
    assert torch.allclose(k, torch.round(k), atol=1e-4) and float(k.abs().max()) <= 127 + 1e-4


@pytest.mark.slow
def test_insert_and_remove_keep_state_dict() -> None:
    m = build_model("efficientnet_b0", 7).eval()
    keys = list(m.state_dict())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = m(x)
    st = insert_fake_quant(m)
    assert list(m.state_dict()) == keys and len(st.observers) > 100
    init_ranges(m, st, [x], then="frozen")
    with torch.no_grad():
        fq = m(x)
    assert not torch.equal(fq, ref) and torch.isfinite(fq).all()
    remove_fake_quant(st)
    with torch.no_grad():
        assert torch.equal(m(x), ref)


@pytest.mark.slow
def test_qat_stage_end_to_end(tmp_path: Path) -> None:
    torch.manual_seed(0)
    write_ham(tmp_path / "d", 56)
    out = tmp_path / "w"
    base = out / "base.safetensors"
    cfg = TrainConfig(data="", resolution=32, split_file=str(out / "split.json"))
    save_safetensors(build_model("efficientnet_b0", 7), base, checkpoint_metadata(cfg))
    rc = main(["--data", str(tmp_path / "d"), "--qat-from", str(base), "--qat-epochs", "0.2", "--resolution", "32",
               "--batch-size", "8", "--lr", "1e-3", "--threads", "1", "--workers", "1", "--out", str(out),
               "--split-file", str(out / "split.json")])
    assert rc == 0
    ckpt = out / "efficientnet_b0_ham10000.safetensors"
    loaded = load_checkpoint(ckpt)
    assert loaded.info.model == "efficientnet_b0" and loaded.info.num_classes == 7
    assert checkpoint_header(str(ckpt)) == checkpoint_header(str(base))
    doc = json.loads((out / "efficientnet_b0_ham10000.metrics.json").read_text())
    assert doc["qat"]["steps"] == 1 and np.isfinite(doc["qat"]["train_s"])
    before = load_checkpoint(base).model.state_dict()
    after = loaded.model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before if after[k].is_floating_point())
    assert all(torch.equal(before[k], after[k]) for k in before if "running_" in k)  # BN statistics frozen


@pytest.mark.parametrize("distill", [0.5])
def test_qat_with_distillation_trains_the_weights(tmp_path: Path, distill: float) -> None:
    write_ham(tmp_path / "d", 56)
    out = tmp_path / "w"
    base = out / "base.safetensors"
    save_safetensors(build_model("efficientnet_b0", 7), base, checkpoint_metadata(TrainConfig(data="", resolution=32)))
    rc = main(["--data", str(tmp_path / "d"), "--qat-from", str(base), "--qat-epochs", "0.2", "--resolution", "32",
               "--batch-size", "8", "--qat-distill", str(distill), "--threads", "1", "--out", str(out),
               "--split-file", str(out / "split.json")])
    assert rc == 0
    before = load_checkpoint(base).model.state_dict()
    after = load_checkpoint(out / "efficientnet_b0_ham10000.safetensors").model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before if after[k].is_floating_point())


@pytest.mark.slow
def test_float_forward_switch_and_float_weight_runs(tmp_path: Path) -> None:
    from sramflow.train.qat import float_forward

    m = build_model("efficientnet_b0", 7).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = m(x)
    st = insert_fake_quant(m)
    init_ranges(m, st, [x])
    ranges = {k: (o.lo, o.hi) for k, o in st.observers.items()}
    with float_forward(st), torch.no_grad():
        assert torch.equal(m(x), ref)  # plain float forward on the same weights
    assert {k: (o.lo, o.hi) for k, o in st.observers.items()} == ranges  # observers untouched
    with torch.no_grad():
        assert not torch.equal(m(x), ref)  # fake quant back on
    write_ham(tmp_path / "d", 56)
    out = tmp_path / "w"
    base = out / "base.safetensors"
    save_safetensors(build_model("efficientnet_b0", 7), base, checkpoint_metadata(TrainConfig(data="", resolution=32)))
    rc = main(["--data", str(tmp_path / "d"), "--qat-from", str(base), "--qat-epochs", "0.2", "--resolution", "32",
               "--batch-size", "8", "--qat-float-weight", "0.5", "--qat-distill", "0.5", "--threads", "1",
               "--out", str(out), "--split-file", str(out / "split.json")])
    assert rc == 0
    doc = json.loads((out / "efficientnet_b0_ham10000.metrics.json").read_text())
    assert doc["qat"]["config"]["float_weight"] == 0.5 and np.isfinite(doc["qat"]["train_s"])
    # a second QAT stage from the first one's checkpoint keeps the first stage's record
    out2 = tmp_path / "w2"
    rc = main(["--data", str(tmp_path / "d"), "--qat-from", str(out / "efficientnet_b0_ham10000.safetensors"),
               "--qat-epochs", "0.2", "--resolution", "32", "--batch-size", "8", "--qat-float-weight", "0.25",
               "--threads", "1", "--out", str(out2), "--split-file", str(out / "split.json")])
    assert rc == 0
    doc2 = json.loads((out2 / "efficientnet_b0_ham10000.metrics.json").read_text())
    assert [q["config"]["float_weight"] for q in doc2["qat_earlier"]] == [0.5] and doc2["qat"]["config"]["float_weight"] == 0.25


@pytest.mark.parametrize("n", [1, 2, 7, 39, 512, 12345])
def test_percentiles_equal_torch_quantile(n: int) -> None:
    from sramflow.train.qat import _percentiles

    x = torch.randn(n, generator=torch.Generator().manual_seed(n)) * 3
    qs = (1e-4, 0.9999, 0.5, 0.0, 1.0)
    assert [float(t) for t in _percentiles(x, qs)] == torch.quantile(x, torch.tensor(qs)).tolist()


def test_observer_range_is_a_device_tensor_with_the_ema() -> None:
    """Two training batches: the range is m * r1 + (1 - m) * r2 of the clamped percentiles, kept as a tensor."""
    from sramflow.train.qat import QATState, _percentiles

    st = QATState(momentum=0.75, seed=3)
    obs = st.obs("t")
    x1, x2 = torch.randn(2, 8, 4, 4) + 2.0, torch.randn(2, 8, 4, 4) * 5  # 256 values: below the sample size, all used
    r1 = [float(t) for t in _percentiles(x1.reshape(-1), (1e-4, 0.9999))]
    r2 = [float(t) for t in _percentiles(x2.reshape(-1), (1e-4, 0.9999))]
    r1, r2 = ([min(r[0], 0.0), max(r[1], 0.0)] for r in (r1, r2))
    obs(x1)
    y = obs(x2)
    assert isinstance(obs.range, torch.Tensor) and obs.range.device == x2.device
    want = [0.75 * a + 0.25 * b for a, b in zip(r1, r2)]
    assert obs.lo == pytest.approx(want[0], rel=1e-6) and obs.hi == pytest.approx(want[1], rel=1e-6)
    assert torch.equal(y, fake_quant_range(x2, obs.lo, obs.hi))  # tensor and float ranges give the same grid


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (a lent GPU machine)")
def test_observer_does_not_wait_for_the_gpu() -> None:
    from sramflow.train.qat import QATState

    st = QATState()
    obs = st.obs("t")
    x = torch.randn(4, 32, 56, 56, device="cuda")
    obs(x)  # first call: allocations (pinned host buffers) may sync once
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        obs(x)
    finally:
        torch.cuda.set_sync_debug_mode("default")
