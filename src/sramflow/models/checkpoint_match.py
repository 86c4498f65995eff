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
from sramflow.models.arch import ARCHS, SCALING, ArchSpec, scaled_variant
from sramflow.models.layouts import (
    LAYOUT_BN_EPS,
    LAYOUT_PADDING,
    classifier_weight_key,
    detect_layout,
    has_squeeze_excite,
    key_map,
)
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
    padding: str = "symmetric"  # "symmetric" | "tf_same" (LAYOUT_PADDING: how the layout's framework pads)


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


@dataclass(frozen=True)
class _Fit:
    """How a state dict fits one architecture in one layout."""

    arch: ArchSpec
    ours: dict[str, tuple[int, ...]]  # our key -> shape
    mapping: dict[str, str]  # our key -> theirs
    missing: list[str]
    unexpected: list[str]
    mismatched: list[str]

    @property
    def problems(self) -> int:
        return len(self.missing) + len(self.unexpected) + len(self.mismatched)

    def describe(self) -> str:
        parts = []
        if self.missing:
            parts.append(f"missing keys: {_describe(self.missing)}")
        if self.unexpected:
            parts.append(f"unexpected keys: {_describe(self.unexpected)}")
        if self.mismatched:
            parts.append(f"shape mismatches: {_describe(self.mismatched)}")
        return "; ".join(parts)


def _fit(arch: ArchSpec, layout: str, sd: Mapping[str, Any], classes: int) -> _Fit:
    ours = {e.key: e.shape for e in state_spec(arch, classes)}
    mapping = key_map(layout, arch, list(ours))
    unmapped = [k for k in ours if k not in mapping]
    if unmapped:  # a bug in our tables, not in the user's file
        raise AssertionError(f"no {layout} key for {unmapped[:3]}")
    used = set(mapping.values())
    missing = sorted(mapping[k] for k in ours if mapping[k] not in sd and not k.endswith("num_batches_tracked"))
    unexpected = sorted(k for k in sd if k not in used)
    mismatched = [f"{mapping[k]} {tuple(sd[mapping[k]].shape)} vs expected {shape}"
                  for k, shape in ours.items() if mapping[k] in sd and tuple(sd[mapping[k]].shape) != shape]
    return _Fit(arch, ours, mapping, missing, unexpected, mismatched)


def _candidates(squeeze_excite: bool) -> list[ArchSpec]:
    """Built-in architectures first, then the larger B variants that are only recognised by name."""
    known = [a for a in ARCHS.values() if a.squeeze_excite == squeeze_excite]
    if squeeze_excite:
        known += [scaled_variant(n) for n in SCALING if n not in ARCHS]
    return known


def recognise(sd: Mapping[str, Any], layout: str) -> _Fit:
    """The known EfficientNet variant the state dict fits best (an exact fit when there is one)."""
    classes = int(sd[classifier_weight_key(layout)].shape[0])
    fits = [_fit(a, layout, sd, classes) for a in _candidates(has_squeeze_excite(layout, set(sd)))]
    return min(fits, key=lambda f: f.problems)


def match_state(sd: Mapping[str, Any], path: Path, model: str | None = None,
                num_classes: int | None = None) -> MatchedState:
    """Infer layout, architecture (variant), padding and class count of ``sd`` (values with ``.shape``: torch
    tensors or numpy arrays) and map it onto our keys, or raise naming what does not match."""
    layout = detect_layout(set(sd))
    if layout is None:
        raise CheckpointError(
            f"{path}: not an EfficientNet checkpoint in torchvision, timm or efficientnet_pytorch layout "
            f"(first keys: {_describe(sorted(sd))}); export the model to ONNX and use --onnx instead"
        )
    fit = recognise(sd, layout)
    name = fit.arch.name
    if fit.problems == 0 and name not in ARCHS:
        raise CheckpointError(f"{path}: looks like {name} ({layout} layout), which is not built in "
                              f"(built in: {', '.join(ARCHS)}); export it to ONNX and use --onnx instead")
    if model is not None and model != name:
        if fit.problems == 0:
            raise CheckpointError(f"{path}: looks like {name} ({layout} layout) but --model {model} was given; "
                                  f"drop --model or pass --model {name}")
        raise CheckpointError(f"{path}: does not match --model {model} ({layout} layout); the closest variant is "
                              f"{name}, and it does not match either: " + fit.describe())
    if fit.problems:
        raise CheckpointError(f"{path}: does not match {name} ({layout} layout), the closest built-in variant: "
                              + fit.describe())
    classes = int(sd[classifier_weight_key(layout)].shape[0])
    if num_classes is not None and num_classes != classes:
        raise CheckpointError(f"{path}: classifier has {classes} classes but --num-classes {num_classes} was given")
    info = CheckpointInfo(
        path=str(path), layout=layout, model=name, num_classes=classes, state_dict_entries=len(sd),
        state_dict_numel=int(sum(int(np.prod(tuple(v.shape), dtype=np.int64)) for v in sd.values())),
        bn_eps=LAYOUT_BN_EPS[layout] if fit.arch.squeeze_excite else 1e-3, padding=LAYOUT_PADDING[layout],
    )
    return MatchedState(info, {k: sd.get(fit.mapping[k]) for k in fit.ours})
