"""Reading a PyTorch checkpoint file into a state dict of tensors, safely: never unpickles arbitrary objects
unless the user says ``--trust-checkpoint``."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from sramflow.errors import CheckpointError
from sramflow.models.checkpoint_match import check_file, one_line, strip_prefixes

_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "net", "ema_state_dict")


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
