"""The state dict of a built-in model described without torch: keys (torchvision's names), shapes, and the
seeded random initialization. The torch model (``efficientnet.py``) and the direct graph builder
(``frontend/builtin.py``) both take their random weights from here, so one seed means one model on both paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from sramflow.models.arch import ArchSpec
from sramflow.models.layouts import _GLOBAL_ROLES, _tv_block_roles

_BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


@dataclass(frozen=True)
class Entry:
    key: str
    shape: tuple[int, ...]
    role: str  # "conv", "conv_bias", "bn_weight", "bn_bias", "bn_mean", "bn_var", "bn_count", "fc", "fc_bias"

    @property
    def trainable(self) -> bool:
        return self.role not in ("bn_mean", "bn_var", "bn_count")


def _conv(prefix: str, cout: int, cin_per_group: int, k: int, bias: bool = False) -> Iterator[Entry]:
    yield Entry(f"{prefix}.weight", (cout, cin_per_group, k, k), "conv")
    if bias:
        yield Entry(f"{prefix}.bias", (cout,), "conv_bias")


def _bn(prefix: str, c: int) -> Iterator[Entry]:
    for name, role in zip(_BN_KEYS, ("bn_weight", "bn_bias", "bn_mean", "bn_var", "bn_count")):
        yield Entry(f"{prefix}.{name}", () if role == "bn_count" else (c,), role)


def state_spec(arch: ArchSpec, num_classes: int) -> tuple[Entry, ...]:
    """Every entry of the torch model's ``state_dict()``, in its order (module registration order; in a
    module, parameters before buffers)."""
    roles = _GLOBAL_ROLES["torchvision"]
    out: list[Entry] = [*_conv(roles["stem_conv"], arch.stem_channels, 3, 3), *_bn(roles["stem_bn"], arch.stem_channels)]
    for b in arch.blocks():
        r, mid = _tv_block_roles(b, arch), b.expanded_channels
        if b.has_expand:
            out += [*_conv(r["expand_conv"], mid, b.in_channels, 1), *_bn(r["expand_bn"], mid)]
        out += [*_conv(r["dw_conv"], mid, 1, b.kernel), *_bn(r["dw_bn"], mid)]
        if arch.squeeze_excite:
            out += [*_conv(r["se_reduce"], b.squeeze_channels, mid, 1, bias=True),
                    *_conv(r["se_expand"], mid, b.squeeze_channels, 1, bias=True)]
        out += [*_conv(r["project_conv"], b.out_channels, mid, 1), *_bn(r["project_bn"], b.out_channels)]
    head_in = arch.stages[-1].out_channels
    out += [*_conv(roles["head_conv"], arch.head_channels, head_in, 1), *_bn(roles["head_bn"], arch.head_channels)]
    out += [Entry(f"{roles['classifier']}.weight", (num_classes, arch.head_channels), "fc"),
            Entry(f"{roles['classifier']}.bias", (num_classes,), "fc_bias")]
    return tuple(out)


def trainable_params(spec: tuple[Entry, ...]) -> int:
    """Parameters before BatchNorm folding (what ``sum(p.numel() for p in model.parameters())`` counts)."""
    return int(sum(np.prod(e.shape, dtype=np.int64) for e in spec if e.trainable))


def state_numel(spec: tuple[Entry, ...]) -> int:
    return int(sum(np.prod(e.shape, dtype=np.int64) for e in spec))


def random_state(arch: ArchSpec, num_classes: int, seed: int) -> dict[str, np.ndarray]:
    """Seeded random weights, torchvision's EfficientNet init: convolutions Kaiming-normal (fan-out, gain
    sqrt 2), their biases 0; BatchNorm the identity (weight 1, bias 0, mean 0, variance 1); the classifier
    uniform in +-1/sqrt(fan-in), bias 0. Drawn from numpy's PCG64 in state-dict order (float64, rounded once
    to float32), so the values do not depend on the CPU or on torch."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for e in state_spec(arch, num_classes):
        if e.role == "conv":
            fan_out = e.shape[0] * e.shape[2] * e.shape[3]
            out[e.key] = (rng.standard_normal(e.shape) * np.sqrt(2.0 / fan_out)).astype(np.float32)
        elif e.role == "fc":
            bound = 1.0 / np.sqrt(e.shape[1])
            out[e.key] = rng.uniform(-bound, bound, e.shape).astype(np.float32)
        elif e.role in ("bn_weight", "bn_var"):
            out[e.key] = np.ones(e.shape, np.float32)
        elif e.role == "bn_count":
            out[e.key] = np.zeros(e.shape, np.int64)
        else:
            out[e.key] = np.zeros(e.shape, np.float32)
    return out
