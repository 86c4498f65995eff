"""EfficientNet architecture specs, torch-free: shared by the model code and the key mapper."""

from __future__ import annotations

from dataclasses import dataclass

from sramflow.errors import SramflowError


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
    dropout: float

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

ARCHS: dict[str, ArchSpec] = {
    "efficientnet_b0": ArchSpec("efficientnet_b0", 32, 1280, _B0_STAGES, True, "silu", 0.2),
    # Lite0: same convolution shapes, no squeeze-and-excitation, ReLU6 (TF EfficientNet-Lite).
    "efficientnet_lite0": ArchSpec("efficientnet_lite0", 32, 1280, _B0_STAGES, False, "relu6", 0.2),
}


def get_arch(name: str) -> ArchSpec:
    try:
        return ARCHS[name]
    except KeyError:
        raise SramflowError(
            f"unknown model {name!r}: choose one of {', '.join(sorted(ARCHS))}, or pass --onnx FILE"
        ) from None
