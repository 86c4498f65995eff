"""Arguments every model-taking subcommand shares (``--model``, ``--checkpoint``, ``--onnx``, ...).

Imported by ``cli.py`` and each ``cli_*`` module; torch-free, so ``sramflow --help`` stays fast.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from sramflow.cli_checks import existing_file, positive_int
from sramflow.models import MODEL_NAMES

if TYPE_CHECKING:
    from sramflow.frontend.source import ModelSource


# ``mapping.epilogue.FUSION_MODES`` (spelled here so that ``--help`` imports no mapping code; a test compares them)
FUSION_CHOICES = ("none", "epilogue", "depth-first")
FUSION_DEFAULT = "depth-first"


def add_fusion_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fusion", choices=FUSION_CHOICES, default=FUSION_DEFAULT,
                   help="operator fusion: none (every node its own pass), epilogue (a Conv/Gemm with its element-wise "
                        "chain is one group whose inner tensors are never written), depth-first (epilogue, plus, "
                        "with an outer SRAM level, layers run in row bands / channel chunks staged per part and "
                        "Conv -> Conv tensors kept in that level; elsewhere it falls back to epilogue); default "
                        f"{FUSION_DEFAULT}")


def add_model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--model", choices=MODEL_NAMES, default=None,
                   help="built-in architecture (default efficientnet_b0; inferred from --checkpoint)")
    g.add_argument("--num-classes", type=positive_int, default=None, help="classes (default 7; inferred from --checkpoint)")
    g.add_argument("--resolution", type=positive_int, default=None, help="input height = width in pixels (default: the variant's own, 224 for B0 and Lite0)")
    g.add_argument("--checkpoint", default=None, type=existing_file,
                   help=".pth/.pt/.safetensors in torchvision, timm or efficientnet_pytorch layout")
    g.add_argument("--onnx", default=None, type=existing_file, help="an ONNX CNN instead of a built-in model")
    g.add_argument("--trust-checkpoint", action="store_true",
                   help="allow full pickles (can run arbitrary code): only for files you trust")
    g.add_argument("--seed", type=int, default=0, help="seed of random weights when no checkpoint is given")


def weight_bits_arg(text: str) -> int | str:
    """argparse type of ``--weight-bits``: the canonical spec, or a one-line error naming the bad token."""
    from sramflow.errors import PrecisionError
    from sramflow.ir.precision import canonical_weight_bits

    try:
        return canonical_weight_bits(text)
    except PrecisionError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_weight_bits_arg(p: argparse.ArgumentParser) -> None:
    from sramflow.ir.precision import SPEC_HELP

    p.add_argument("--weight-bits", default=8, type=weight_bits_arg, metavar="SPEC",
                   help=f"weight precision per layer group: {SPEC_HELP}; INT4 is per-channel symmetric [-7, 7], "
                        "packed two per byte (default 8)")


def model_source(a: argparse.Namespace) -> ModelSource:
    """The model the parsed ``add_model_args`` flags name."""
    from sramflow.frontend.source import ModelSource

    return ModelSource(model=a.model, num_classes=a.num_classes, resolution=a.resolution, checkpoint=a.checkpoint,
                       onnx=a.onnx, trust_checkpoint=a.trust_checkpoint, seed=a.seed)
