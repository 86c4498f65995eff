"""Built-in models go straight into the IR (frontend.builtin, no torch): the graph must be the one the
PyTorch -> ONNX -> import path gives, node for node, and ``simulate`` on a built-in model must not import torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sramflow.frontend.source import ModelSource, load_graph
from sramflow.ir.graph import Graph
from sramflow.models.arch import get_arch
from sramflow.models.state import random_state, state_spec

torch = pytest.importorskip("torch")


def _checkpoint(tmp_path: Path, model: str, classes: int) -> Path:
    """A torchvision-layout safetensors file whose BatchNorms are far from the identity (so folding matters)."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(7)
    state = random_state(get_arch(model), classes, seed=3)
    for e in state_spec(get_arch(model), classes):
        if e.role in ("bn_weight", "bn_var"):
            state[e.key] = rng.uniform(0.2, 3.0, e.shape).astype(np.float32)
        elif e.role in ("bn_bias", "bn_mean", "conv_bias", "fc_bias"):
            state[e.key] = rng.normal(0, 0.5, e.shape).astype(np.float32)
        elif e.role == "bn_count":
            state[e.key] = np.array(123, np.int64)
    path = tmp_path / f"{model}.safetensors"
    save_file(state, str(path))
    return path


def _assert_same_graph(direct: Graph, exported: Graph) -> None:
    assert (direct.name, direct.input, direct.output) == (exported.name, exported.input, exported.output)
    assert dict(direct.shapes) == dict(exported.shapes)
    # the exporter also writes an Identity per de-duplicated initializer: an artifact of the export, not a node
    assert list(direct.folded) == [f for f in exported.folded if f.op != "Identity"]
    assert len(direct.nodes) == len(exported.nodes)
    for a, b in zip(direct.nodes, exported.nodes):
        assert (a.name, a.op, a.inputs, a.output, dict(a.attrs)) == (b.name, b.op, b.inputs, b.output, dict(b.attrs))
        assert sorted(a.weights) == sorted(b.weights), a.name
        folded_bn = a.op == "Conv" and ".fc" not in a.name  # every Conv but the squeeze-excitation ones has a BN
        for k in a.weights:
            wa, wb = a.weights[k], b.weights[k]
            assert (wa.dtype, wa.shape) == (wb.dtype, wb.shape), (a.name, k)
            if folded_bn:  # both round the fold to float32 once; torch's float32 sqrt may differ by an ulp
                np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-6 * float(np.abs(wb).max()), err_msg=a.name)
            else:
                np.testing.assert_array_equal(wa, wb, err_msg=f"{a.name} {k}")


@pytest.mark.parametrize("model", ["efficientnet_b0", "efficientnet_lite0"])
@pytest.mark.parametrize("resolution", [224, 72])
def test_checkpoint_graph_equals_the_torch_onnx_path(tmp_path: Path, model: str, resolution: int) -> None:
    from sramflow.frontend.torch_export import torch_to_graph
    from sramflow.models.checkpoint import load_checkpoint

    path = _checkpoint(tmp_path, model, 5)
    direct = load_graph(ModelSource(checkpoint=str(path), resolution=resolution))
    loaded = load_checkpoint(path)
    exported = torch_to_graph(loaded.model, resolution, loaded.info.model)
    _assert_same_graph(direct.graph, exported)
    assert (direct.model, direct.num_classes, direct.resolution, direct.checkpoint_layout) == \
        (model, 5, resolution, "torchvision")
    assert direct.torch_params == sum(p.numel() for p in loaded.model.parameters())
    assert (direct.state_dict_entries, direct.state_dict_numel) == \
        (loaded.info.state_dict_entries, loaded.info.state_dict_numel)


@pytest.mark.parametrize("model", ["efficientnet_b0", "efficientnet_lite0"])
def test_random_weights_are_the_torch_models(model: str) -> None:
    """One seed, one model: the torch module takes its random weights from models.state too."""
    from sramflow.frontend.torch_export import torch_to_graph
    from sramflow.models.efficientnet import build_model

    direct = load_graph(ModelSource(model=model, num_classes=7, resolution=64, seed=4))
    net = build_model(model, 7, seed=4)
    _assert_same_graph(direct.graph, torch_to_graph(net, 64, model))
    sd = net.state_dict()
    assert (direct.torch_params, direct.state_dict_entries, direct.state_dict_numel) == \
        (sum(p.numel() for p in net.parameters()), len(sd), sum(t.numel() for t in sd.values()))
    other = load_graph(ModelSource(model=model, num_classes=7, resolution=64, seed=5)).graph
    assert not np.array_equal(other.nodes[0].weights["W"], direct.graph.nodes[0].weights["W"])


def test_state_spec_is_the_torch_state_dict() -> None:
    from sramflow.models.efficientnet import build_model

    for model in ("efficientnet_b0", "efficientnet_lite0"):
        sd = build_model(model, 3, seed=None).state_dict()
        assert [(e.key, e.shape) for e in state_spec(get_arch(model), 3)] == [(k, tuple(v.shape)) for k, v in sd.items()]


def test_simulate_on_a_builtin_model_does_not_import_torch(tmp_path: Path) -> None:
    """Random weights, and a safetensors checkpoint (read as numpy arrays)."""
    ckpt = _checkpoint(tmp_path, "efficientnet_b0", 4)
    code = (
        "import sys\n"
        "from sramflow.cli import main\n"
        "rc = main(['simulate', '--model', 'efficientnet_lite0', '--num-classes', '3', '--resolution', '32'])\n"
        f"rc += main(['simulate', '--checkpoint', {str(ckpt)!r}, '--resolution', '32'])\n"
        "print('RC', rc, 'HEAVY', [m for m in ('torch', 'onnx') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "RC 0 HEAVY []" in out, out[-800:]
