"""Checkpoint files matched onto our state dict without torch: file checks, layout and architecture inference,
key mapping and the missing / unexpected / shape checks. ``checkpoint.load_checkpoint`` puts the result into a
torch model; ``frontend.source`` builds the graph straight from it (safetensors read as numpy arrays).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sramflow.errors import CheckpointError
from sramflow.models.arch import get_arch
from sramflow.models.layouts import LAYOUT_BN_EPS, classifier_weight_key, detect_layout, has_squeeze_excite, key_map
from sramflow.models.state import state_spec

PREFIXES = ("module.", "_orig_mod.", "model.")
SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".safetensors")


@dataclass(frozen=True)
class CheckpointInfo:
    path: str
    layout: str
    model: str
    num_classes: int
    state_dict_entries: int
    state_dict_numel: int
    bn_eps: float


@dataclass(frozen=True)
class MatchedState:
    """The checkpoint's tensors under our keys (entries it lacks, only ``num_batches_tracked``, are None)."""

    info: CheckpointInfo
    state: dict[str, Any]


def check_file(path: Path) -> None:
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.suffix not in SUFFIXES:
        raise CheckpointError(f"{path}: unknown checkpoint extension {path.suffix!r}; expected one of {', '.join(SUFFIXES)}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: file is empty")


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def strip_prefixes(tensors: dict[str, Any]) -> dict[str, Any]:
    """Drop a ``module.``-style prefix that every key carries (DataParallel, torch.compile, wrappers)."""
    for prefix in PREFIXES:
        if all(k.startswith(prefix) for k in tensors):
            tensors = {k[len(prefix):]: v for k, v in tensors.items()}
    return tensors


def _describe(keys: list[str], limit: int = 5) -> str:
    more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def match_state(sd: Mapping[str, Any], path: Path, model: str | None = None,
                num_classes: int | None = None) -> MatchedState:
    """Infer layout, architecture and class count of ``sd`` (values with ``.shape``: torch tensors or numpy
    arrays) and map it onto our keys, or raise naming what does not match."""
    keys = set(sd)
    layout = detect_layout(keys)
    if layout is None:
        raise CheckpointError(
            f"{path}: not an EfficientNet checkpoint in torchvision, timm or efficientnet_pytorch layout "
            f"(first keys: {_describe(sorted(keys))}); export the model to ONNX and use --onnx instead"
        )
    inferred = "efficientnet_b0" if has_squeeze_excite(layout, keys) else "efficientnet_lite0"
    if model is not None and model != inferred:
        raise CheckpointError(f"{path}: looks like {inferred} ({layout} layout) but --model {model} was given")
    classes = int(sd[classifier_weight_key(layout)].shape[0])
    if num_classes is not None and num_classes != classes:
        raise CheckpointError(f"{path}: classifier has {classes} classes but --num-classes {num_classes} was given")
    eps = LAYOUT_BN_EPS[layout] if inferred == "efficientnet_b0" else 1e-3
    ours = {e.key: e.shape for e in state_spec(get_arch(inferred), classes)}
    mapping = key_map(layout, get_arch(inferred), list(ours))
    unmapped = [k for k in ours if k not in mapping]
    if unmapped:  # a bug in our tables, not in the user's file
        raise AssertionError(f"no {layout} key for {unmapped[:3]}")
    theirs_used = set(mapping.values())
    missing = sorted(mapping[k] for k in ours if mapping[k] not in sd and not k.endswith("num_batches_tracked"))
    unexpected = sorted(k for k in keys if k not in theirs_used)
    mismatched = [
        f"{mapping[k]} {tuple(sd[mapping[k]].shape)} vs expected {shape}"
        for k, shape in ours.items()
        if mapping[k] in sd and tuple(sd[mapping[k]].shape) != shape
    ]
    problems = []
    if missing:
        problems.append(f"missing keys: {_describe(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_describe(unexpected)}")
    if mismatched:
        problems.append(f"shape mismatches: {_describe(mismatched)}")
    if problems:
        raise CheckpointError(f"{path}: does not match {inferred} ({layout} layout): " + "; ".join(problems))
    info = CheckpointInfo(
        path=str(path), layout=layout, model=inferred, num_classes=classes, state_dict_entries=len(sd),
        state_dict_numel=int(sum(int(np.prod(tuple(v.shape), dtype=np.int64)) for v in sd.values())), bn_eps=eps,
    )
    return MatchedState(info, {k: sd.get(mapping[k]) for k in ours})
