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
from sramflow.models.arch import ARCHS, SCALING, ArchSpec, scaled_variant
from sramflow.models.efficientnet import EfficientNet, build_model
from sramflow.models.layouts import (
    LAYOUT_BN_EPS,
    LAYOUT_PADDING,
    classifier_weight_key,
    detect_layout,
    has_squeeze_excite,
    key_map,
)

_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "net", "ema_state_dict")
_PREFIXES = ("module.", "_orig_mod.", "model.")
_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".safetensors")


@dataclass(frozen=True)
class CheckpointInfo:
    path: str
    layout: str
    model: str
    num_classes: int
    state_dict_entries: int
    state_dict_numel: int
    bn_eps: float
    padding: str  # "symmetric" | "tf_same" (see models/efficientnet.py)


@dataclass(frozen=True)
class LoadedModel:
    model: EfficientNet
    info: CheckpointInfo


def _read_raw(path: Path, trust: bool) -> Any:
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.suffix not in _SUFFIXES:
        raise CheckpointError(f"{path}: unknown checkpoint extension {path.suffix!r}; expected one of {', '.join(_SUFFIXES)}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: file is empty")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as exc:  # safetensors raises several error types for corrupt headers
            raise CheckpointError(f"{path}: not a readable safetensors file (truncated or corrupt?): {_one_line(exc)}") from None
    try:
        return torch.load(str(path), map_location="cpu", weights_only=not trust)
    except pickle.UnpicklingError as exc:
        if not trust and "weights_only" in str(exc):
            raise CheckpointError(
                f"{path}: contains pickled Python objects (e.g. a whole model), which can run arbitrary code "
                "when loaded. Save a state_dict instead, or pass --trust-checkpoint if you trust this file."
            ) from None
        raise CheckpointError(f"{path}: cannot unpickle (truncated or corrupt?): {_one_line(exc)}") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, AttributeError, ImportError) as exc:
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint (truncated or corrupt?): {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


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
    for prefix in _PREFIXES:
        if all(k.startswith(prefix) for k in tensors):
            tensors = {k[len(prefix):]: v for k, v in tensors.items()}
    return tensors


def read_state_dict(path: str | Path, trust: bool = False) -> dict[str, torch.Tensor]:
    p = Path(path)
    return extract_state_dict(_read_raw(p, trust), p)


def _describe(keys: list[str], limit: int = 5) -> str:
    more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


@dataclass(frozen=True)
class _Fit:
    """How a state dict fits one architecture in one layout."""

    arch: ArchSpec
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


def _fit(arch: ArchSpec, layout: str, sd: dict[str, torch.Tensor], classes: int) -> _Fit:
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        ours = EfficientNet(arch, classes).state_dict()
    mapping = key_map(layout, arch, list(ours))
    unmapped = [k for k in ours if k not in mapping]
    if unmapped:  # a bug in our tables, not in the user's file
        raise AssertionError(f"no {layout} key for {unmapped[:3]}")
    used = set(mapping.values())
    missing = sorted(mapping[k] for k in ours if mapping[k] not in sd and not k.endswith("num_batches_tracked"))
    unexpected = sorted(k for k in sd if k not in used)
    mismatched = [f"{mapping[k]} {tuple(sd[mapping[k]].shape)} vs expected {tuple(v.shape)}"
                  for k, v in ours.items() if mapping[k] in sd and tuple(sd[mapping[k]].shape) != tuple(v.shape)]
    return _Fit(arch, mapping, missing, unexpected, mismatched)


def _candidates(squeeze_excite: bool) -> list[ArchSpec]:
    """Built-in architectures first, then the larger B variants that are only recognised by name."""
    known = [a for a in ARCHS.values() if a.squeeze_excite == squeeze_excite]
    if squeeze_excite:
        known += [scaled_variant(n) for n in SCALING if n not in ARCHS]
    return known


def recognise(sd: dict[str, torch.Tensor], layout: str) -> _Fit:
    """The known EfficientNet variant the state dict fits best (an exact fit when there is one)."""
    classes = int(sd[classifier_weight_key(layout)].shape[0])
    fits = [_fit(a, layout, sd, classes) for a in _candidates(has_squeeze_excite(layout, set(sd)))]
    return min(fits, key=lambda f: f.problems)


def load_checkpoint(
    path: str | Path, model: str | None = None, num_classes: int | None = None, trust: bool = False
) -> LoadedModel:
    """Load a checkpoint into a built-in model; infer layout, architecture (variant) and class count."""
    p = Path(path)
    sd = read_state_dict(p, trust)
    layout = detect_layout(set(sd))
    if layout is None:
        raise CheckpointError(
            f"{p}: not an EfficientNet checkpoint in torchvision, timm or efficientnet_pytorch layout "
            f"(first keys: {_describe(sorted(sd))}); export the model to ONNX and use --onnx instead"
        )
    fit = recognise(sd, layout)
    name = fit.arch.name
    if fit.problems == 0 and name not in ARCHS:
        raise CheckpointError(f"{p}: looks like {name} ({layout} layout), which is not built in "
                              f"(built in: {', '.join(ARCHS)}); export it to ONNX and use --onnx instead")
    if model is not None and model != name:
        if fit.problems == 0:
            raise CheckpointError(f"{p}: looks like {name} ({layout} layout) but --model {model} was given; "
                                  f"drop --model or pass --model {name}")
        raise CheckpointError(f"{p}: does not match --model {model} ({layout} layout); the closest variant is {name}, "
                              "and it does not match either: " + fit.describe())
    if fit.problems:
        raise CheckpointError(f"{p}: does not match {name} ({layout} layout), the closest built-in variant: "
                              + fit.describe())
    classes = int(sd[classifier_weight_key(layout)].shape[0])
    if num_classes is not None and num_classes != classes:
        raise CheckpointError(f"{p}: classifier has {classes} classes but --num-classes {num_classes} was given")
    eps = LAYOUT_BN_EPS[layout] if fit.arch.squeeze_excite else 1e-3
    padding = LAYOUT_PADDING[layout]
    net = build_model(name, classes, seed=None, bn_eps=eps, padding=padding)
    ours = net.state_dict()
    net.load_state_dict({k: sd[fit.mapping[k]] if fit.mapping[k] in sd else v for k, v in ours.items()}, strict=True)
    net.eval()
    info = CheckpointInfo(
        path=str(p), layout=layout, model=name, num_classes=classes,
        state_dict_entries=len(sd), state_dict_numel=int(sum(t.numel() for t in sd.values())), bn_eps=eps,
        padding=padding,
    )
    return LoadedModel(net, info)
