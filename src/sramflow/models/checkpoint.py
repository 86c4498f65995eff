"""Safe checkpoint loading: torchvision, timm and efficientnet_pytorch layouts onto our models.

Never unpickles arbitrary objects unless the user says ``--trust-checkpoint``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sramflow.models.checkpoint_match import CheckpointInfo, match_state
from sramflow.models.efficientnet import EfficientNet, build_model
from sramflow.models.torch_state import extract_state_dict, read_state_dict

__all__ = ["CheckpointInfo", "LoadedModel", "load_checkpoint", "read_state_dict", "extract_state_dict"]


@dataclass(frozen=True)
class LoadedModel:
    model: EfficientNet
    info: CheckpointInfo


def load_checkpoint(
    path: str | Path, model: str | None = None, num_classes: int | None = None, trust: bool = False
) -> LoadedModel:
    """Load a checkpoint into a built-in model; infer layout, architecture (variant), padding and class count."""
    p = Path(path)
    matched = match_state(read_state_dict(p, trust), p, model, num_classes)
    info = matched.info
    net = build_model(info.model, info.num_classes, seed=None, bn_eps=info.bn_eps, padding=info.padding)
    ours = net.state_dict()
    net.load_state_dict({k: ours[k] if v is None else v for k, v in matched.state.items()}, strict=True)
    net.eval()
    return LoadedModel(net, info)
