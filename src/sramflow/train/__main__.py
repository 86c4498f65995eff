"""``python -m sramflow.train --data ../shared/data/ham10000 --model efficientnet_b0 --resolution 224 --epochs 14 --device auto --workers 4 --out build/train-base/``"""

from __future__ import annotations

import argparse
import os
import sys

# On a shared CPU, spinning OpenMP threads wait for a descheduled sibling at every op (measured here:
# 2 spinning threads on ~1 free core ran ~7 img/s instead of ~25). Passive waiting avoids that.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from sramflow.errors import PrecisionError, SramflowError  # noqa: E402
from sramflow.ir.precision import SPEC_HELP, canonical_weight_bits  # noqa: E402
from sramflow.train.loop import KEEP, TRAIN_ON, QATConfig, TrainConfig  # noqa: E402
from sramflow.train.state import Sitting  # noqa: E402


def _weight_bits(text: str) -> int | str:
    """argparse type: the canonical spec through the one parser (``sramflow.ir.precision``) quantize uses."""
    try:
        return canonical_weight_bits(text)
    except PrecisionError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig(data="")
    q = QATConfig(data="", qat_from="")
    p = argparse.ArgumentParser(prog="python -m sramflow.train", description="Fine-tune the HAM10000 reference checkpoint.")
    p.add_argument("--data", required=True, help="HAM10000 folder (metadata CSV + images, found recursively)")
    p.add_argument("--model", default=d.model, choices=["efficientnet_b0", "efficientnet_lite0"])
    p.add_argument("--resolution", type=int, default=d.resolution)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=None, help=f"default {d.lr} (QAT: {q.lr})")
    p.add_argument("--weight-decay", type=float, default=None, help=f"default {d.weight_decay} (QAT: {q.weight_decay})")
    p.add_argument("--label-smoothing", type=float, default=d.label_smoothing)
    p.add_argument("--balance-alpha", type=float, default=d.balance_alpha)
    p.add_argument("--warmup-steps", type=int, default=d.warmup_steps)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--threads", type=int, default=d.threads, help="torch CPU threads")
    p.add_argument("--device", default=d.device, help="auto (cuda if a GPU is visible, else cpu), cpu, cuda, cuda:N")
    p.add_argument("--workers", type=int, default=d.workers,
                   help="forked augmentation processes (0: in this process); results do not depend on it")
    p.add_argument("--split-file", default=d.split_file, help="read if it exists, else written")
    p.add_argument("--out", default=None, help=f"output folder (default {d.out}; with --resume: the resumed folder)")
    p.add_argument("--resume", metavar="DIR", default=None,
                   help="continue the run whose --out was DIR from its last finished epoch (same options; only "
                        "--data, --threads, --device and --workers may change); the state is written there every epoch")
    p.add_argument("--epochs-this-sitting", type=int, default=None, metavar="N",
                   help="stop after N finished epochs (state kept); continue later with --resume")
    p.add_argument("--ema", type=float, default=d.ema_decay, metavar="DECAY",
                   help="base stage: evaluate, select and save an exponential moving average of the weights "
                        "(e.g. 0.999; 0: off)")
    p.add_argument("--lr-min-ratio", type=float, default=d.lr_min_ratio,
                   help="base stage: the cosine schedule (its length: --epochs) ends at this fraction of --lr")
    p.add_argument("--mixup", type=float, default=d.mixup_alpha, metavar="ALPHA",
                   help="base stage: mixup, lam ~ Beta(ALPHA, ALPHA) per batch, soft targets (0: off)")
    p.add_argument("--cutmix", type=float, default=d.cutmix_alpha, metavar="ALPHA",
                   help="base stage: CutMix likewise (0: off); with --mixup too, each batch takes one, 50 / 50")
    p.add_argument("--no-logit-adjust", action="store_true")
    p.add_argument("--keep", default=d.keep, choices=list(KEEP),
                   help="base stage: save the epoch with the best validation balanced accuracy, or the last one "
                        "(cross-validation: nothing chosen on the held-out fold, with --no-logit-adjust)")
    p.add_argument("--train-on", default=d.train_on, choices=list(TRAIN_ON),
                   help="split parts to train on; train+val refits a recipe chosen on val (last epoch kept, no logit "
                        "adjustment; validation figures are then on training images)")
    g = p.add_argument_group("quantization-aware fine-tuning (sramflow.train.qat)")
    g.add_argument("--qat-from", default=None, help="trained checkpoint: run the QAT stage from it instead of base training")
    g.add_argument("--qat-epochs", type=float, default=q.epochs, help="QAT length in epochs (fractions allowed)")
    g.add_argument("--qat-distill", type=float, default=q.distill,
                   help="weight of the KL to the float teacher (the --qat-from model); 1 - it on the label loss")
    g.add_argument("--qat-float-weight", type=float, default=q.float_weight,
                   help="a in [0, 1): loss = a * L(float forward) + (1 - a) * L(fake-quant forward), same weights "
                        "(L: label loss, mixed with --qat-distill if given); 2 forward passes per step")
    g.add_argument("--qat-momentum", type=float, default=q.momentum, help="EMA momentum of the activation ranges")
    g.add_argument("--weight-bits", default=q.weight_bits, type=_weight_bits, metavar="SPEC",
                   help=f"QAT stage: weight fake-quant grid per layer group, as `sramflow quantize --weight-bits`: "
                        f"{SPEC_HELP}; INT4 is per-channel symmetric [-7, 7] (default 8)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    p = build_parser()
    a = p.parse_args(argv)
    if a.resume is not None and a.out is not None and Path(a.out).resolve() != Path(a.resume).resolve():
        p.error(f"--resume {a.resume} continues the run in that folder; --out {a.out} differs (drop --out)")
    if a.qat_from and (a.ema != TrainConfig.ema_decay or a.lr_min_ratio != TrainConfig.lr_min_ratio
                       or a.mixup != TrainConfig.mixup_alpha or a.cutmix != TrainConfig.cutmix_alpha):
        p.error("--ema, --lr-min-ratio, --mixup and --cutmix are base-stage options; the QAT stage (--qat-from) does "
                "not take them")
    if a.mixup < 0 or a.cutmix < 0:
        p.error(f"--mixup / --cutmix: alpha must be >= 0 (0: off), got {a.mixup} / {a.cutmix}")
    if not a.qat_from and a.weight_bits != QATConfig.weight_bits:
        p.error("--weight-bits is a QAT-stage option (with --qat-from): the base stage trains float weights")
    if a.epochs_this_sitting is not None and a.epochs_this_sitting < 1:
        p.error(f"--epochs-this-sitting {a.epochs_this_sitting}: expected at least 1")
    # the config records --out as given the first time: keep that spelling when resuming
    a.out = a.out if a.out is not None else a.resume if a.resume is not None else TrainConfig.out
    sitting = Sitting(resume=a.resume is not None, epochs=a.epochs_this_sitting)
    from sramflow.train.loop import train, train_qat

    if a.qat_from:
        q = QATConfig(
            data=a.data, qat_from=a.qat_from, model=a.model, resolution=a.resolution, epochs=a.qat_epochs,
            batch_size=a.batch_size, lr=QATConfig.lr if a.lr is None else a.lr,
            weight_decay=QATConfig.weight_decay if a.weight_decay is None else a.weight_decay,
            label_smoothing=a.label_smoothing, balance_alpha=a.balance_alpha, distill=a.qat_distill,
            float_weight=a.qat_float_weight,
            momentum=a.qat_momentum, seed=a.seed, threads=a.threads, split_file=a.split_file, out=a.out,
            device=a.device, workers=a.workers, train_on=a.train_on, weight_bits=a.weight_bits,
        )
        run = partial(train_qat, q, sitting)
    else:
        cfg = TrainConfig(
            data=a.data, model=a.model, resolution=a.resolution, epochs=a.epochs, batch_size=a.batch_size,
            lr=TrainConfig.lr if a.lr is None else a.lr,
            weight_decay=TrainConfig.weight_decay if a.weight_decay is None else a.weight_decay,
            label_smoothing=a.label_smoothing, balance_alpha=a.balance_alpha,
            warmup_steps=a.warmup_steps, seed=a.seed, threads=a.threads, split_file=a.split_file, out=a.out,
            logit_adjust=not a.no_logit_adjust, device=a.device, workers=a.workers, train_on=a.train_on, keep=a.keep,
            ema_decay=a.ema, lr_min_ratio=a.lr_min_ratio, mixup_alpha=a.mixup, cutmix_alpha=a.cutmix,
        )
        run = partial(train, cfg, sitting)
    try:
        run()
    except SramflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
