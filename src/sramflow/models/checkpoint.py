"""Safe checkpoint loading: torchvision, timm and efficientnet_pytorch layouts onto our models.

Never unpickles arbitrary objects unless the user says ``--trust-checkpoint``.
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sramflow.errors import CheckpointError
from sramflow.models.checkpoint_match import CheckpointInfo, check_file, match_state, one_line, strip_prefixes
from sramflow.models.efficientnet import EfficientNet, build_model

_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "net", "ema_state_dict")
__all__ = ["CheckpointInfo", "LoadedModel", "load_checkpoint", "read_state_dict", "extract_state_dict"]


@dataclass(frozen=True)
class LoadedModel:
    model: EfficientNet
    info: CheckpointInfo


def _read_raw(path: Path, trust: bool) -> Any:
    check_file(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as exc:  # safetensors raises several error types for corrupt headers
            raise CheckpointError(f"{path}: not a readable safetensors file (truncated or corrupt?): {one_line(exc)}") from None
    try:
        return torch.load(str(path), map_location="cpu", weights_only=not trust)
    except pickle.UnpicklingError as exc:
        if not trust and "weights_only" in str(exc):
            raise CheckpointError(
                f"{path}: contains pickled Python objects (e.g. a whole model), which can run arbitrary code "
                "when loaded. Save a state_dict instead, or pass --trust-checkpoint if you trust this file."
            ) from None
        raise CheckpointError(f"{path}: cannot unpickle (truncated or corrupt?): {one_line(exc)}") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, AttributeError, ImportError) as exc:
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint (truncated or corrupt?): {one_line(exc)}") from None


def extract_state_dict(raw: Any, path: Path) -> dict[str, torch.Tensor]:
    """Unwrap ``{'state_dict': ...}``-style dicts and ``module.`` prefixes; keep tensors only."""
    obj = raw
    for _ in range(3):
        if isinstance(obj, torch.nn.Module):
            obj = obj.state_dict()
        if isinstance(obj, dict):
            inner = next((obj[k] for k in _WRAPPER_KEYS if k in obj and isinstance(obj[k], (dict, torch.nn.Module))), None)
            if inner is not None and not any(isinstance(v, torch.Tensor) for v in obj.values()):
                obj = inner
                continue
        break
    if not isinstance(obj, dict) or not obj:
        raise CheckpointError(f"{path}: holds no state dict (found {type(raw).__name__})")
    tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointError(f"{path}: the dict holds no tensors (keys: {', '.join(list(map(str, obj))[:5])})")
    return strip_prefixes(tensors)


def read_state_dict(path: str | Path, trust: bool = False) -> dict[str, torch.Tensor]:
    p = Path(path)
    return extract_state_dict(_read_raw(p, trust), p)


def load_checkpoint(
    path: str | Path, model: str | None = None, num_classes: int | None = None, trust: bool = False
) -> LoadedModel:
    """Load a checkpoint into a built-in model; infer layout, architecture and class count."""
    p = Path(path)
    matched = match_state(read_state_dict(p, trust), p, model, num_classes)
    info = matched.info
    net = build_model(info.model, info.num_classes, seed=None, bn_eps=info.bn_eps)
    ours = net.state_dict()
    net.load_state_dict({k: ours[k] if v is None else v for k, v in matched.state.items()}, strict=True)
    net.eval()
    return LoadedModel(net, info)
