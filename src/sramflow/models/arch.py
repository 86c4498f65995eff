"""EfficientNet architecture specs, torch-free: shared by the model code, the key mapper and any IR builder.

B1..B3 are B0 under compound scaling (Tan & Le 2019): channel counts times a width multiplier rounded to a
multiple of 8 (never below 90 % of the exact product), layer counts times a depth multiplier rounded up. The
scaled specs are ordinary ``ArchSpec``s, so every consumer reads scaled channel and layer counts directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from sramflow.errors import SramflowError
# TensorFlow's SAME padding along one axis ((before, after), the odd pixel after): how efficientnet_pytorch-layout
# weights are padded (``layouts.LAYOUT_PADDING``); re-exported under the name the model code and builders use.
from sramflow.padding import same_pads as tf_same_pads  # noqa: F401


@dataclass(frozen=True)
class StageSpec:
    expand_ratio: int
    kernel: int
    stride: int
    in_channels: int
    out_channels: int
    layers: int


@dataclass(frozen=True)
class BlockSpec:
    """One MBConv block, flattened out of its stage."""

    stage: int  # 0-based stage index (torchvision's features.{stage+1})
    index: int  # index inside the stage
    global_index: int  # index over all blocks (efficientnet_pytorch's _blocks.{i})
    expand_ratio: int
    kernel: int
    stride: int
    in_channels: int
    out_channels: int

    @property
    def expanded_channels(self) -> int:
        return self.in_channels * self.expand_ratio

    @property
    def squeeze_channels(self) -> int:
        # torchvision / timm / efficientnet_pytorch all use 0.25 x the block's input channels.
        return max(1, self.in_channels // 4)

    @property
    def has_expand(self) -> bool:
        return self.expand_ratio != 1

    @property
    def has_residual(self) -> bool:
        return self.stride == 1 and self.in_channels == self.out_channels


@dataclass(frozen=True)
class ArchSpec:
    name: str
    stem_channels: int
    head_channels: int
    stages: tuple[StageSpec, ...]
    squeeze_excite: bool
    activation: str  # "silu" | "relu6"
    dropout: float  # training only: inference ignores it
    resolution: int = 224  # the input size the variant was designed (and usually trained) for
    width_mult: float = 1.0  # compound scaling already applied to the channel counts above
    depth_mult: float = 1.0  # ... and to the layer counts

    def blocks(self) -> tuple[BlockSpec, ...]:
        out: list[BlockSpec] = []
        for s, st in enumerate(self.stages):
            for j in range(st.layers):
                out.append(
                    BlockSpec(
                        stage=s,
                        index=j,
                        global_index=len(out),
                        expand_ratio=st.expand_ratio,
                        kernel=st.kernel,
                        stride=st.stride if j == 0 else 1,
                        in_channels=st.in_channels if j == 0 else st.out_channels,
                        out_channels=st.out_channels,
                    )
                )
        return tuple(out)


_B0_STAGES = (
    StageSpec(1, 3, 1, 32, 16, 1),
    StageSpec(6, 3, 2, 16, 24, 2),
    StageSpec(6, 5, 2, 24, 40, 2),
    StageSpec(6, 3, 2, 40, 80, 3),
    StageSpec(6, 5, 1, 80, 112, 3),
    StageSpec(6, 5, 2, 112, 192, 4),
    StageSpec(6, 3, 1, 192, 320, 1),
)



def round_channels(channels: int, width_mult: float, divisor: int = 8) -> int:
    """The channel rounding all three implementations share (TF's round_filters, torchvision's
    _make_divisible): nearest multiple of ``divisor``, at least ``divisor``, bumped up if it lost over 10 %."""
    exact = channels * width_mult
    out = max(divisor, int(exact + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * exact else out


def round_layers(layers: int, depth_mult: float) -> int:
    return int(math.ceil(layers * depth_mult))


def compound_scale(base: ArchSpec, name: str, width_mult: float, depth_mult: float, resolution: int,
                   dropout: float) -> ArchSpec:
    """``base`` (unscaled) widened and deepened; stem and head channels scale with the width too."""
    stages = tuple(
        StageSpec(st.expand_ratio, st.kernel, st.stride, round_channels(st.in_channels, width_mult),
                  round_channels(st.out_channels, width_mult), round_layers(st.layers, depth_mult))
        for st in base.stages
    )
    return replace(base, name=name, stem_channels=round_channels(base.stem_channels, width_mult),
                   head_channels=round_channels(base.head_channels, width_mult), stages=stages, dropout=dropout,
                   resolution=resolution, width_mult=width_mult, depth_mult=depth_mult)


_B0 = ArchSpec("efficientnet_b0", 32, 1280, _B0_STAGES, True, "silu", 0.2)

# (width, depth, resolution, dropout) of the EfficientNet paper / TF reference, as torchvision, timm and
# efficientnet_pytorch use them. B4..B7 are only named when recognising a checkpoint, not built in.
SCALING: dict[str, tuple[float, float, int, float]] = {
    "efficientnet_b0": (1.0, 1.0, 224, 0.2),
    "efficientnet_b1": (1.0, 1.1, 240, 0.2),
    "efficientnet_b2": (1.1, 1.2, 260, 0.3),
    "efficientnet_b3": (1.2, 1.4, 300, 0.3),
    "efficientnet_b4": (1.4, 1.8, 380, 0.4),
    "efficientnet_b5": (1.6, 2.2, 456, 0.4),
    "efficientnet_b6": (1.8, 2.6, 528, 0.5),
    "efficientnet_b7": (2.0, 3.1, 600, 0.5),
}
BUILT_IN_SCALED = ("efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3")


def scaled_variant(name: str) -> ArchSpec:
    return compound_scale(_B0, name, *SCALING[name])


ARCHS: dict[str, ArchSpec] = {
    **{name: scaled_variant(name) for name in BUILT_IN_SCALED},
    # Lite0: same convolution shapes as B0, no squeeze-and-excitation, ReLU6 (TF EfficientNet-Lite).
    "efficientnet_lite0": ArchSpec("efficientnet_lite0", 32, 1280, _B0_STAGES, False, "relu6", 0.2),
}
MODEL_NAMES = tuple(ARCHS)


def get_arch(name: str) -> ArchSpec:
    try:
        return ARCHS[name]
    except KeyError:
        raise SramflowError(
            f"unknown model {name!r}: choose one of {', '.join(sorted(ARCHS))}, or pass --onnx FILE"
        ) from None
