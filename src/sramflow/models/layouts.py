"""Checkpoint key layouts of the three common EfficientNet implementations, mapped onto ours.

Ours uses torchvision's names. For every parameter "role" of the architecture (stem conv, a block's
depthwise BN, the SE reduce conv, ...) each layout names a module prefix; the suffixes (``weight``,
``bias``, ``running_mean``...) are the same everywhere. So one table per layout, no per-key regexes.
"""

from __future__ import annotations

from collections.abc import Callable

from sramflow.models.arch import ArchSpec, BlockSpec

# role -> module prefix, for one block (None = architecture-level role)
PrefixFn = Callable[[str, BlockSpec | None, ArchSpec], str]


def _tv_block_roles(b: BlockSpec, arch: ArchSpec) -> dict[str, str]:
    base = f"features.{b.stage + 1}.{b.index}.block"
    roles: dict[str, str] = {}
    i = 0
    if b.has_expand:
        roles["expand_conv"], roles["expand_bn"] = f"{base}.{i}.0", f"{base}.{i}.1"
        i += 1
    roles["dw_conv"], roles["dw_bn"] = f"{base}.{i}.0", f"{base}.{i}.1"
    i += 1
    if arch.squeeze_excite:
        roles["se_reduce"], roles["se_expand"] = f"{base}.{i}.fc1", f"{base}.{i}.fc2"
        i += 1
    roles["project_conv"], roles["project_bn"] = f"{base}.{i}.0", f"{base}.{i}.1"
    return roles


def _timm_block_roles(b: BlockSpec, arch: ArchSpec) -> dict[str, str]:
    base = f"blocks.{b.stage}.{b.index}"
    se = {"se_reduce": f"{base}.se.conv_reduce", "se_expand": f"{base}.se.conv_expand"} if arch.squeeze_excite else {}
    if not b.has_expand:  # DepthwiseSeparableConv
        return {"dw_conv": f"{base}.conv_dw", "dw_bn": f"{base}.bn1", **se,
                "project_conv": f"{base}.conv_pw", "project_bn": f"{base}.bn2"}
    return {"expand_conv": f"{base}.conv_pw", "expand_bn": f"{base}.bn1",
            "dw_conv": f"{base}.conv_dw", "dw_bn": f"{base}.bn2", **se,
            "project_conv": f"{base}.conv_pwl", "project_bn": f"{base}.bn3"}


def _lukemelas_block_roles(b: BlockSpec, arch: ArchSpec) -> dict[str, str]:
    base = f"_blocks.{b.global_index}"
    roles = {"dw_conv": f"{base}._depthwise_conv", "dw_bn": f"{base}._bn1",
             "project_conv": f"{base}._project_conv", "project_bn": f"{base}._bn2"}
    if b.has_expand:
        roles |= {"expand_conv": f"{base}._expand_conv", "expand_bn": f"{base}._bn0"}
    if arch.squeeze_excite:
        roles |= {"se_reduce": f"{base}._se_reduce", "se_expand": f"{base}._se_expand"}
    return roles


_GLOBAL_ROLES: dict[str, dict[str, str]] = {
    "torchvision": {"stem_conv": "features.0.0", "stem_bn": "features.0.1", "head_conv": "features.8.0",
                    "head_bn": "features.8.1", "classifier": "classifier.1"},
    "timm": {"stem_conv": "conv_stem", "stem_bn": "bn1", "head_conv": "conv_head", "head_bn": "bn2",
             "classifier": "classifier"},
    "efficientnet_pytorch": {"stem_conv": "_conv_stem", "stem_bn": "_bn0", "head_conv": "_conv_head",
                             "head_bn": "_bn1", "classifier": "_fc"},
}

_BLOCK_ROLES = {
    "torchvision": _tv_block_roles,
    "timm": _timm_block_roles,
    "efficientnet_pytorch": _lukemelas_block_roles,
}

LAYOUTS = tuple(_GLOBAL_ROLES)

# Default BatchNorm epsilon of each implementation's EfficientNet-B* (not stored in checkpoints).
LAYOUT_BN_EPS = {"torchvision": 1e-5, "timm": 1e-5, "efficientnet_pytorch": 1e-3}
# How each implementation pads (not stored in checkpoints either): efficientnet_pytorch ports TensorFlow's
# weights and pads like TensorFlow's SAME (Conv2dStaticSamePadding / Conv2dDynamicSamePadding); torchvision
# and timm's efficientnet_b* pad (k-1)//2. (timm's tf_efficientnet_* also pad SAME, but their keys are the
# timm ones: a file cannot tell, so timm files are read as the non-tf_ models.)
LAYOUT_PADDING = {"torchvision": "symmetric", "timm": "symmetric", "efficientnet_pytorch": "tf_same"}


def _role_prefixes(layout: str, arch: ArchSpec) -> list[tuple[str, str]]:
    """(our torchvision prefix, the layout's prefix) for every module with parameters."""
    pairs = [(_GLOBAL_ROLES["torchvision"][r], _GLOBAL_ROLES[layout][r]) for r in ("stem_conv", "stem_bn")]
    for b in arch.blocks():
        ours, theirs = _tv_block_roles(b, arch), _BLOCK_ROLES[layout](b, arch)
        pairs += [(ours[r], theirs[r]) for r in ours]
    pairs += [(_GLOBAL_ROLES["torchvision"][r], _GLOBAL_ROLES[layout][r]) for r in ("head_conv", "head_bn", "classifier")]
    return pairs


def key_map(layout: str, arch: ArchSpec, our_keys: list[str]) -> dict[str, str]:
    """Map each of our state-dict keys to the key the given layout uses for it."""
    prefixes = _role_prefixes(layout, arch)
    out: dict[str, str] = {}
    for key in our_keys:
        mod, _, suffix = key.rpartition(".")
        for ours, theirs in prefixes:
            if mod == ours:
                out[key] = f"{theirs}.{suffix}"
                break
    return out


def classifier_weight_key(layout: str) -> str:
    return f"{_GLOBAL_ROLES[layout]['classifier']}.weight"


def detect_layout(keys: set[str]) -> str | None:
    """The layout whose stem and classifier keys are present, or None."""
    for layout, roles in _GLOBAL_ROLES.items():
        if f"{roles['stem_conv']}.weight" in keys and f"{roles['classifier']}.weight" in keys:
            return layout
    return None


def has_squeeze_excite(layout: str, keys: set[str]) -> bool:
    markers = {"torchvision": ".fc1.weight", "timm": ".se.conv_reduce.weight", "efficientnet_pytorch": "._se_reduce.weight"}
    return any(k.endswith(markers[layout]) for k in keys)
