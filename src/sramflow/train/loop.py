"""Fine-tune EfficientNet-B0 / -Lite0 on HAM10000 (CPU or a CUDA GPU): one function, one command.

Recipe: start from the Lite0 ImageNet weights, AdamW, linear warm-up then cosine LR, label
smoothing, class-balanced sampling (class c drawn with mass proportional to n_c**alpha) so the
rare classes are seen, best epoch chosen by validation balanced accuracy. Afterwards one post-hoc
logit adjustment (Menon et al., 2021) ``bias_c -= tau * log(prior_c)`` with ``tau`` picked on the
validation split is folded into the classifier bias: the saved checkpoint is an ordinary model.

Batches: each drawn image gets its own augmentation seed (drawn from the run's seeded generator), so a
batch is the same whether it is augmented in this process or by ``workers`` forked processes; the
workers return uint8 images and the batch is normalised on the training device
(``preprocess.normalize_torch``, equal to ``preprocess.normalize`` bit for bit).
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sramflow.data.dataset import Batch, Skipped, ham_items, load_arrays
from sramflow.data.ham10000 import LABELS, Sample, load_ham10000, load_or_make_split, select
from sramflow.data.preprocess import decode_image, normalize_torch, resize_rgb
from sramflow.errors import DataError
from sramflow.eval.metrics import Metrics, compute_metrics
from sramflow.ir.precision import canonical_weight_bits
from sramflow.jsonio import sha256_file
from sramflow.models.efficientnet import build_model
from sramflow.train.augment import augment
from sramflow.train.mix import mix_batch
from sramflow.train.pretrained import init_from_lite0
from sramflow.train.state import (EMA, SavedState, Sitting, check_same_run, data_key, load_optimizer,
                                  load_scheduler, optimizer_state, prefixed, read_state, rng_state, scheduler_state,
                                  set_rng_state, state_path, unprefixed, write_state)

TAU_GRID = tuple(round(0.1 * i, 1) for i in range(-5, 16))
TRAIN_ON = ("train", "train+val")  # which split parts a stage trains on
KEEP = ("best-val", "last")  # which base epoch is saved


def training_parts(train_on: str) -> tuple[str, ...]:
    """Split parts trained on. ``train+val`` refits a recipe already chosen on val: no epoch selection, no tau."""
    if train_on not in TRAIN_ON:
        raise DataError(f"train_on {train_on!r}: expected one of {', '.join(TRAIN_ON)}")
    return tuple(train_on.split("+"))


def val_trained_on(train_on: str) -> bool:
    """Whether val is in the training data: then nothing is chosen on it and its figures measure fit."""
    return "val" in training_parts(train_on)


def val_name(train_on: str) -> str:
    """How logs name the validation figures: with val in the training data they measure fit, not generalisation."""
    return "val (trained on)" if val_trained_on(train_on) else "val"


def fit_samples(parts: dict[str, list[Sample]], train_on: str) -> list[Sample]:
    """The samples a stage trains on: the split parts named by ``train_on``, in order."""
    return [s for k in training_parts(train_on) for s in parts[k]]


@dataclass(frozen=True)
class TrainConfig:
    data: str
    model: str = "efficientnet_b0"
    resolution: int = 128
    epochs: int = 5
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.02
    label_smoothing: float = 0.1
    balance_alpha: float = 0.5  # sampling mass of class c ~ n_c**alpha (1 = natural, 0 = uniform)
    warmup_steps: int = 100
    seed: int = 0
    threads: int = 2
    split_file: str = "weights/ham10000_split.json"
    out: str = "weights"
    logit_adjust: bool = True
    device: str = "auto"  # auto: cuda if available, else cpu
    workers: int = 0  # forked augmentation processes (0: augment in this process)
    train_on: str = "train"  # "train+val": val joins the training data; last epoch kept, no logit adjustment
    keep: str = "best-val"  # which epoch's weights are saved: best validation balanced accuracy, or "last"
    ema_decay: float = 0.0  # > 0: evaluate, select and save an exponential moving average of the weights
    lr_min_ratio: float = 0.01  # the cosine ends at this fraction of lr (its length: epochs)
    mixup_alpha: float = 0.0  # > 0: mixup with lam ~ Beta(alpha, alpha) (``train.mix``)
    cutmix_alpha: float = 0.0  # > 0: CutMix likewise; with both, each batch takes one, 50 / 50


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _cap(im, resolution: int):  # noqa: ANN001, ANN202 - PIL image
    """Training cache: keep decoded images no larger than 2*res per side (600x450 originals)."""
    from PIL import Image

    limit = 2 * resolution
    if max(im.size) > limit:
        im = im.copy()
        im.thumbnail((limit, limit), Image.Resampling.BILINEAR)
    return im


@dataclass(frozen=True)
class _Decoded:
    images: list  # PIL images, capped at 2 * resolution per side
    labels: list[int]
    names: list[str]  # image ids, in the order of images
    skipped: Skipped


def _decode_train(samples: list[Sample], resolution: int) -> _Decoded:
    out = _Decoded([], [], [], Skipped())
    for s in samples:
        try:
            out.images.append(_cap(decode_image(s.path), resolution))
            out.labels.append(s.label)
            out.names.append(s.image_id)
        except DataError as exc:
            out.skipped.reasons[s.image_id] = str(exc)
    return out


def _sample_weights(labels: list[int], alpha: float) -> np.ndarray:
    counts = Counter(labels)
    w = np.array([counts[y] ** (alpha - 1.0) for y in labels], dtype=np.float64)
    return w / w.sum()


def effective_prior(labels: list[int], alpha: float, num_classes: int) -> np.ndarray:
    """Class prior the model sees under the balanced sampler: proportional to n_c**alpha."""
    counts = Counter(labels)
    p = np.array([max(counts.get(c, 0), 1) ** alpha for c in range(num_classes)], dtype=np.float64)
    return p / p.sum()


@torch.no_grad()
def predict_logits(model: nn.Module, x: np.ndarray, batch_size: int = 128) -> np.ndarray:
    """Logits of preprocessed images ``x`` (float32 NCHW), on the device the model's parameters are on."""
    model.eval()
    device = next(model.parameters()).device
    outs = []
    for i in range(0, len(x), batch_size):
        xb = torch.from_numpy(x[i:i + batch_size]).to(device).contiguous(memory_format=torch.channels_last)
        outs.append(model(xb).float().cpu().numpy())
    return np.concatenate(outs) if outs else np.zeros((0, len(LABELS)), np.float32)


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when a GPU is visible, else cpu; ``cuda`` without a GPU is an error naming the fix."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DataError(f"--device {name}: torch {torch.__version__} sees no CUDA GPU (use --device cpu or auto)")
    return torch.device(name)


_POOL_IMAGES: list = []  # the decoded training images, inherited by the forked augmentation workers


def _augment_batch(task: tuple[np.ndarray, np.ndarray, int], images: list | None = None) -> np.ndarray:
    """One batch: image i augmented with its own seed, resized: uint8 [B, res, res, 3]."""
    idx, seeds, resolution = task
    pool = _POOL_IMAGES if images is None else images
    return np.stack([resize_rgb(augment(pool[i], random.Random(int(s))), resolution) for i, s in zip(idx, seeds)])


class Augmenter:
    """Augmented training batches, in this process (``workers`` = 0) or by forked worker processes.

    Results do not depend on ``workers``: a batch is a function of its (indices, seeds) task alone.
    Use as a context manager; with workers, create it before CUDA is initialised (fork).
    """

    def __init__(self, images: list, resolution: int, workers: int):
        self.images, self.resolution, self.workers = images, resolution, workers
        self._pool = None

    def __enter__(self) -> Augmenter:
        if self.workers > 0:
            global _POOL_IMAGES
            _POOL_IMAGES = self.images
            self._pool = multiprocessing.get_context("fork").Pool(self.workers)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool = None

    def batches(self, tasks: Iterable[tuple[np.ndarray, np.ndarray]]) -> Iterator[np.ndarray]:
        jobs = ((idx, seeds, self.resolution) for idx, seeds in tasks)
        if self._pool is None:
            return (_augment_batch(t, self.images) for t in jobs)
        return self._pool.imap(_augment_batch, jobs)


def draw_tasks(np_rng: np.random.Generator, weights: np.ndarray, steps: int, batch_size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``steps`` batches of (image indices drawn with replacement by ``weights``, one augmentation seed each)."""
    idx = np_rng.choice(len(weights), size=steps * batch_size, replace=True, p=weights)
    seeds = np_rng.integers(0, 2**63 - 1, size=steps * batch_size, dtype=np.int64)
    return [(idx[k * batch_size:(k + 1) * batch_size], seeds[k * batch_size:(k + 1) * batch_size]) for k in range(steps)]


def to_device(xb: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 NHWC batch -> normalised float32 NCHW (channels-last) on ``device``."""
    return normalize_torch(torch.from_numpy(xb).to(device, non_blocking=True))


def device_batches(aug: Augmenter, tasks: list[tuple[np.ndarray, np.ndarray]], labels: torch.Tensor,
                   device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(images, labels) of each task, on ``device``."""
    for (idx, _), xb in zip(tasks, aug.batches(tasks)):
        yield to_device(xb, device), labels[torch.from_numpy(idx)].to(device, non_blocking=True)


def _lr_lambda(total: int, warmup: int, floor: float = 0.01) -> Callable[[int], float]:
    """Linear warm-up over ``warmup`` steps, then a cosine from 1 to ``floor`` (times the base LR) at step ``total``."""
    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        t = (step - warmup) / max(1, total - warmup)
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))
    return f


def _param_groups(model: nn.Module, wd: float) -> list[dict]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]


def save_safetensors(model: nn.Module, path: Path, metadata: dict[str, str] | None = None) -> None:
    """float32 state dict in our (torchvision) layout; ``metadata`` (e.g. resolution) goes in the header."""
    save_state_dict(model.state_dict(), path, metadata)


def save_state_dict(state_dict: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None) -> None:
    """:func:`save_safetensors` of a state dict, written to a temporary file then renamed (atomic)."""
    from safetensors.torch import save_file

    sd = {k: v.detach().cpu().contiguous().clone() for k, v in state_dict.items()}
    sd = {k: (v.float() if v.is_floating_point() else v) for k, v in sd.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.safetensors")
    save_file(sd, str(tmp), metadata={"format": "pt", "layout": "torchvision", **(metadata or {})})
    tmp.replace(path)


def checkpoint_metadata(cfg: TrainConfig) -> dict[str, str]:
    """Stored in the safetensors header; ``sramflow evaluate`` reads resolution and class names from it."""
    return {"model": cfg.model, "resolution": str(cfg.resolution), "classes": ",".join(LABELS),
            "dataset": "HAM10000 (CC BY-NC 4.0): weights for non-commercial use", "split_file": cfg.split_file}


def _summary(m: Metrics) -> dict:
    return {"accuracy": round(m.accuracy, 4), "balanced_accuracy": round(m.balanced_accuracy, 4),
            "mel_sensitivity": None if m.sensitivity is None else round(m.sensitivity, 4),
            "recall": {c.name: None if c.recall is None else round(c.recall, 3) for c in m.per_class}}


def choose_tau(logits: np.ndarray, labels: np.ndarray, log_prior: np.ndarray) -> tuple[float, Metrics]:
    """Logit-adjustment strength: the highest validation balanced accuracy that costs no validation accuracy.

    (HAM10000 targets both accuracy and balanced accuracy; shifting decisions towards rare classes must
    not lower top-1 accuracy on validation below the unadjusted model's.)
    """
    base = compute_metrics(labels, logits.argmax(1), LABELS)
    best: tuple[float, Metrics] = (0.0, base)
    for tau in TAU_GRID:
        m = compute_metrics(labels, (logits - tau * log_prior).argmax(1), LABELS)
        if m.accuracy >= base.accuracy - 1e-12 and m.balanced_accuracy > best[1].balanced_accuracy + 1e-12:
            best = (tau, m)
    return best


def _start(threads: int, seed: int) -> tuple[float, np.random.Generator]:
    """Common start of a training stage: threads, seeds (torch; numpy draws batches and augmentation seeds), the clock."""
    t_start = time.time()
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    torch.backends.cudnn.benchmark = True  # fixed shapes; only affects CUDA
    return t_start, np.random.default_rng(seed)


@dataclass(frozen=True)
class _TrainData:
    """What the base stage trains and selects on, decoded once."""

    images: list
    labels: list[int]
    names: list[str]
    val: Batch
    test_samples: list[Sample]
    skipped: dict[str, str]
    missing: int


def train(cfg: TrainConfig, sitting: Sitting = Sitting()) -> dict:
    """Base fine-tuning; ``sitting``: resume from ``cfg.out``'s state and/or stop after some epochs (state kept)."""
    training_parts(cfg.train_on)  # a bad value fails before any data work
    if cfg.keep not in KEEP:
        raise DataError(f"keep {cfg.keep!r}: expected one of {', '.join(KEEP)}")
    if not 0.0 <= cfg.ema_decay < 1.0:
        raise DataError(f"ema_decay {cfg.ema_decay}: expected 0 (off) or a decay in (0, 1), e.g. 0.999")
    if not 0.0 <= cfg.lr_min_ratio <= 1.0:
        raise DataError(f"lr_min_ratio {cfg.lr_min_ratio}: expected a fraction of the base LR in [0, 1]")
    # no state (or a QAT stage's) fails before any data work
    saved = read_state(cfg.out, "base", Path(cfg.out) / f"{cfg.model}_ham10000.metrics.json") if sitting.resume else None
    t_start, np_rng = _start(cfg.threads, cfg.seed)

    ds = load_ham10000(cfg.data)
    if ds.missing:
        _log(f"{len(ds.missing)} images listed in {ds.metadata.name} are not on disk (skipped), e.g. {', '.join(ds.missing[:5])}")
    split = load_or_make_split(ds, cfg.split_file, cfg.seed)
    parts = {k: select(ds, split, k) for k in ("train", "val", "test")}
    _log(f"data {ds.root}: {len(ds.samples)} images; split {cfg.split_file}: " +
         ", ".join(f"{k} {len(v)}" for k, v in parts.items()))

    dec = _decode_train(fit_samples(parts, cfg.train_on), cfg.resolution)
    images, labels, skipped_train = dec.images, dec.labels, dec.skipped
    skipped_val = Skipped()
    val = load_arrays(ham_items(parts["val"]), cfg.resolution, skipped_val)
    for name, reason in {**skipped_train.reasons, **skipped_val.reasons}.items():
        _log(f"skipped {name}: {reason}")
    _log(f"decoded {len(images)} training images ({cfg.train_on}), {len(val.names)} val images in {time.time() - t_start:.0f}s; "
         f"train classes {dict(sorted(Counter(LABELS[y] for y in labels).items()))}")

    data = _TrainData(images, labels, dec.names, val, parts["test"], {**skipped_train.reasons, **skipped_val.reasons},
                      len(ds.missing))
    with Augmenter(images, cfg.resolution, cfg.workers) as aug:  # before CUDA is initialised: the workers fork
        return _train_epochs(cfg, data, aug, np_rng, t_start, sitting, saved)


def _train_epochs(cfg: TrainConfig, data: _TrainData, aug: Augmenter, np_rng: np.random.Generator, t_start: float,
                  sitting: Sitting, saved: SavedState | None) -> dict:
    out = Path(cfg.out)
    ckpt = out / f"{cfg.model}_ham10000.safetensors"
    meta = checkpoint_metadata(cfg)
    labels, val = data.labels, data.val
    device = resolve_device(cfg.device)
    model = build_model(cfg.model, len(LABELS), seed=cfg.seed, bn_eps=1e-5)
    if saved is None:
        not_init = init_from_lite0(model, cfg.model)
        _log(f"initialised from Lite0 ImageNet weights; {len(not_init)} tensors not from Lite0 (classifier, SE); "
             f"device {device}, {cfg.workers} augmentation workers")
    model = model.to(device, memory_format=torch.channels_last)
    labels_t = torch.tensor(labels, dtype=torch.long)

    steps_per_epoch = len(labels) // cfg.batch_size
    total = steps_per_epoch * cfg.epochs
    opt = torch.optim.AdamW(_param_groups(model, cfg.weight_decay), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(total, cfg.warmup_steps, cfg.lr_min_ratio))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    weights = _sample_weights(labels, cfg.balance_alpha)
    ema = EMA(model, cfg.ema_decay) if cfg.ema_decay > 0 else None
    kept = model if ema is None else ema.module  # what is evaluated, selected and saved
    history: list[dict] = []
    best_bal, best_epoch, best_sd, done, sittings = -1.0, -1, None, 0, 1
    elapsed_before = 0.0
    key = data_key(data.names, labels, len(val.names))
    if saved is not None:
        _log_changes(check_same_run(saved, asdict(cfg), key, asdict(TrainConfig(data=cfg.data))))
        model.load_state_dict(unprefixed("model", saved.tensors), strict=True)
        load_optimizer(opt, saved)
        load_scheduler(sched, saved)
        if ema is not None:
            ema.load(unprefixed("ema", saved.tensors), saved.info["ema_updates"])
        set_rng_state(saved, np_rng)
        b = saved.info["best"]
        best_bal, best_epoch, done = b["balanced_accuracy"], b["epoch"], saved.info["epoch"]
        history, sittings, elapsed_before = saved.info["history"], saved.info["sittings"] + 1, saved.info["elapsed_s"]
        best_sd = unprefixed("best", saved.tensors)
        if best_sd:  # the state is written before the checkpoint: make them agree
            save_state_dict(best_sd, ckpt, meta)
        _log(f"resumed from {saved.path} after epoch {done}/{cfg.epochs} (sitting {sittings}; best epoch {best_epoch}); "
             f"device {device}, {cfg.workers} augmentation workers")

    def elapsed() -> float:
        return elapsed_before + time.time() - t_start

    for epoch in range(done + 1, cfg.epochs + 1):
        model.train()
        t0 = time.time()
        tasks = draw_tasks(np_rng, weights, steps_per_epoch, cfg.batch_size)
        running, seen = torch.zeros((), device=device), 0
        for step, (xb, yb) in enumerate(device_batches(aug, tasks, labels_t, device)):
            xm, target = mix_batch(xb, yb, len(LABELS), np_rng, cfg.mixup_alpha, cfg.cutmix_alpha)
            loss = loss_fn(model(xm), target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if ema is not None:
                ema.update(model)
            running += loss.detach() * len(yb)
            seen += len(yb)
            if (step + 1) % 50 == 0:
                _log(f"epoch {epoch} step {step + 1}/{steps_per_epoch} loss {float(running) / seen:.4f} "
                     f"({seen / (time.time() - t0):.1f} img/s)")
        running = float(running)
        train_s = time.time() - t0
        m = compute_metrics(val.labels, predict_logits(kept, val.x).argmax(1), LABELS)
        rec = {"epoch": epoch, "train_loss": round(running / max(seen, 1), 4), "train_s": round(train_s, 1),
               "lr_end": opt.param_groups[0]["lr"], "val": _summary(m)}
        history.append(rec)
        # "last", or val in the training data (nothing held out to select on): every epoch replaces the one before
        improved = m.balanced_accuracy > best_bal or cfg.keep == "last" or val_trained_on(cfg.train_on)
        if improved:
            best_bal, best_epoch = m.balanced_accuracy, epoch
            best_sd = {k: v.detach().cpu().clone() for k, v in kept.state_dict().items()}
        # the state first: a run killed before the checkpoint below is written rewrites it from the state
        _write_base_state(out, cfg, key, epoch, model, opt, sched, ema, np_rng, best_sd, best_bal, best_epoch,
                          history, sittings, elapsed())
        if improved:
            save_state_dict(best_sd, ckpt, meta)
        _log(f"epoch {epoch}/{cfg.epochs} loss {rec['train_loss']} {val_name(cfg.train_on)} acc {m.accuracy:.4f} "
             f"bal {m.balanced_accuracy:.4f} mel-sens {m.sensitivity} ({train_s:.0f}s){' *best*' if improved else ''}")
        _write_metrics(out, cfg, history, None, elapsed(), sittings)
        if sitting.epochs is not None and epoch - done >= sitting.epochs and epoch < cfg.epochs:
            _log(f"stopping after {sitting.epochs} epochs this sitting (epoch {epoch}/{cfg.epochs}); continue with "
                 f"the same command plus --resume {out}")
            return {"stopped_after_epoch": epoch, "epochs": cfg.epochs}

    # best epoch, then post-hoc logit adjustment chosen on validation
    from sramflow.models.checkpoint import load_checkpoint

    best = load_checkpoint(ckpt, cfg.model, len(LABELS)).model.to(device, memory_format=torch.channels_last)
    val_logits = predict_logits(best, val.x)
    log_prior = np.log(effective_prior(labels, cfg.balance_alpha, len(LABELS)))
    tau = 0.0
    if cfg.logit_adjust and not val_trained_on(cfg.train_on):
        tau, m_adj = choose_tau(val_logits, val.labels, log_prior)
        with torch.no_grad():
            best.classifier[1].bias -= torch.from_numpy((tau * log_prior).astype(np.float32)).to(device)
        save_safetensors(best, ckpt, meta)
        _log(f"logit adjustment tau={tau}: val acc {m_adj.accuracy:.4f} bal {m_adj.balanced_accuracy:.4f}")

    skipped_test = Skipped()
    test = load_arrays(ham_items(data.test_samples), cfg.resolution, skipped_test)
    final = load_checkpoint(ckpt, cfg.model, len(LABELS)).model.to(device, memory_format=torch.channels_last)
    m_val = compute_metrics(val.labels, predict_logits(final, val.x).argmax(1), LABELS)
    # a copy of the data without the test images (e.g. on a lent GPU machine) trains without looking at test
    m_test = compute_metrics(test.labels, predict_logits(final, test.x).argmax(1), LABELS) if len(test.names) else None
    result = {
        "best_epoch": best_epoch, "logit_adjust_tau": tau, "train_on": cfg.train_on, "train_images": len(labels),
        "val_in_training_data": val_trained_on(cfg.train_on),
        "val": m_val.to_json(), "test": None if m_test is None else m_test.to_json(),
        "skipped_images": sorted({**data.skipped, **skipped_test.reasons}),
        "missing_images": data.missing,
    }
    test_msg = ("no test images in this copy of the data: test not evaluated" if m_test is None else
                f"TEST acc {m_test.accuracy:.4f} bal {m_test.balanced_accuracy:.4f} mel-sens {m_test.sensitivity} "
                f"mel-spec {m_test.specificity}")
    _log(f"final (epoch {best_epoch}, tau {tau}): {val_name(cfg.train_on)} acc {m_val.accuracy:.4f} bal {m_val.balanced_accuracy:.4f}; {test_msg}")
    _write_metrics(out, cfg, history, result, elapsed(), sittings)
    state_path(out).unlink(missing_ok=True)  # finished: nothing left to resume
    return result


def _log_changes(changes: list[str]) -> None:
    if changes:
        rounding = any(c.startswith(("threads", "device")) for c in changes)
        _log("changed since the last sitting: " + "; ".join(changes) +
             (" (a different thread count or device can round differently: the result then equals an uninterrupted "
              "run's up to float rounding, not bit for bit)" if rounding else ""))


def _write_base_state(out: Path, cfg: TrainConfig, key: dict, epoch: int, model: nn.Module, opt: torch.optim.Optimizer,
                      sched: torch.optim.lr_scheduler.LRScheduler, ema: EMA | None, np_rng: np.random.Generator,
                      best_sd: dict | None, best_bal: float, best_epoch: int, history: list[dict], sittings: int,
                      elapsed_s: float) -> None:
    opt_tensors, opt_info = optimizer_state(opt)
    rng_tensors, rng_info = rng_state(np_rng)
    tensors = {**prefixed("model", model.state_dict()), **opt_tensors, **rng_tensors, **prefixed("best", best_sd or {})}
    if ema is not None:
        tensors.update(prefixed("ema", ema.module.state_dict()))
    info = {"stage": "base", "config": asdict(cfg), "data_key": key, "epoch": epoch, "optimizer": opt_info,
            "scheduler": scheduler_state(sched), "rng": rng_info, "ema_updates": 0 if ema is None else ema.updates,
            "best": {"epoch": best_epoch, "balanced_accuracy": best_bal}, "history": history, "sittings": sittings,
            "elapsed_s": elapsed_s, "torch": torch.__version__}
    write_state(out, tensors, info)


def _write_json(path: Path, doc: dict) -> None:
    """Atomic: a temporary file renamed over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    os.replace(tmp, path)


def _write_metrics(out: Path, cfg: TrainConfig, history: list[dict], result: dict | None, wall_time_s: float,
                   sittings: int = 1) -> None:
    doc = {"config": asdict(cfg), "torch": torch.__version__, "threads": cfg.threads,
           "wall_time_s": round(wall_time_s, 1), "sittings": sittings, "epochs": history, "result": result}
    _write_json(out / f"{cfg.model}_ham10000.metrics.json", doc)


@dataclass(frozen=True)
class QATConfig:
    """Quantization-aware fine-tuning of a trained checkpoint (``sramflow.train.qat``)."""

    data: str
    qat_from: str
    model: str = "efficientnet_b0"
    resolution: int = 128
    epochs: float = 1.0  # fractions allowed: steps = round(epochs * len(train) / batch)
    batch_size: int = 32
    lr: float = 3e-5
    weight_decay: float = 0.0
    label_smoothing: float = 0.1
    balance_alpha: float = 0.5
    distill: float = 0.0  # weight of KL(float teacher || QAT student); 1 - distill on the label loss
    float_weight: float = 0.0  # a: loss = a * L(float forward) + (1 - a) * L(fake-quant forward), same weights
    momentum: float = 0.95  # EMA of the activation ranges
    init_batches: int = 4
    seed: int = 0
    threads: int = 2
    split_file: str = "weights/ham10000_split.json"
    out: str = "weights"
    device: str = "auto"
    workers: int = 0
    train_on: str = "train"  # "train+val": val joins the training data (its metrics are then on training images)
    weight_bits: int | str = 8  # canonical --weight-bits spec (sramflow.ir.precision): the weights' fake-quant grid


def train_qat(cfg: QATConfig, sitting: Sitting = Sitting()) -> dict:
    """Fine-tune ``cfg.qat_from`` with fake quantization (BN frozen, constant-then-cosine low LR), save the float weights.

    No epoch selection: the last step's weights are saved. Validation float metrics are logged; INT8
    metrics come from ``sramflow evaluate`` (the integer reference with its own calibration). The state is
    written after every ``round(len(train) / batch)`` steps (an epoch) for ``--resume``.
    """
    from sramflow.models.checkpoint import load_checkpoint

    if not 0.0 <= cfg.float_weight < 1.0:
        raise ValueError(f"float_weight must be in [0, 1), got {cfg.float_weight}")
    training_parts(cfg.train_on)  # a bad value fails before any data work
    if cfg.weight_bits != canonical_weight_bits(cfg.weight_bits):  # one spelling per spec: resume compares it
        raise ValueError(f"weight_bits {cfg.weight_bits!r}: pass canonical_weight_bits(spec) "
                         f"({canonical_weight_bits(cfg.weight_bits)!r})")
    saved = read_state(cfg.out, "qat") if sitting.resume else None
    if saved is not None:  # states written before --weight-bits existed were all-INT8 runs
        saved.info["config"].setdefault("weight_bits", 8)
    t_start, np_rng = _start(cfg.threads, cfg.seed)
    model = load_checkpoint(cfg.qat_from, cfg.model, len(LABELS)).model  # a bad checkpoint fails before any data work
    ds = load_ham10000(cfg.data)
    split = load_or_make_split(ds, cfg.split_file, cfg.seed)
    parts = {k: select(ds, split, k) for k in ("train", "val")}
    dec = _decode_train(fit_samples(parts, cfg.train_on), cfg.resolution)
    images, labels = dec.images, dec.labels
    val = load_arrays(ham_items(parts["val"]), cfg.resolution, Skipped())
    _log(f"QAT from {cfg.qat_from}: decoded {len(images)} training images ({cfg.train_on}), {len(val.names)} val images in {time.time() - t_start:.0f}s")
    key = {**data_key(dec.names, labels, len(val.names)), "qat_from_sha256": sha256_file(cfg.qat_from)[:16]}
    if saved is not None:
        _log_changes(check_same_run(saved, asdict(cfg), key))
    weights = _sample_weights(labels, cfg.balance_alpha)
    steps = max(1, round(cfg.epochs * len(images) / cfg.batch_size))
    # every task is drawn here from the seed, so a resumed run draws the same ones and skips those already done
    init_tasks = draw_tasks(np_rng, weights, cfg.init_batches, cfg.batch_size)
    tasks = draw_tasks(np_rng, weights, steps, cfg.batch_size)
    epoch_steps = max(1, round(len(images) / cfg.batch_size))
    with Augmenter(images, cfg.resolution, cfg.workers) as aug:  # before CUDA is initialised: the workers fork
        return _qat_steps(cfg, model, aug, labels, val, init_tasks, tasks, t_start,
                          _QATSitting(sitting, saved, key, epoch_steps, np_rng))


@dataclass(frozen=True)
class _QATSitting:
    sitting: Sitting
    saved: SavedState | None
    data_key: dict
    epoch_steps: int  # the state is written after every epoch_steps steps
    np_rng: np.random.Generator


def _qat_steps(cfg: QATConfig, model: nn.Module, aug: Augmenter, labels: list[int], val: Batch,
               init_tasks: list, tasks: list, t_start: float, sit: _QATSitting) -> dict:
    from sramflow.models.checkpoint import load_checkpoint
    from sramflow.train.qat import float_forward, init_ranges, insert_fake_quant, remove_fake_quant

    out = Path(cfg.out)
    ckpt = out / f"{cfg.model}_ham10000.safetensors"
    meta = checkpoint_metadata(TrainConfig(data=cfg.data, model=cfg.model, resolution=cfg.resolution,
                                           split_file=cfg.split_file))
    device = resolve_device(cfg.device)
    model = model.to(device, memory_format=torch.channels_last).eval()
    teacher = None
    if cfg.distill > 0:
        teacher = load_checkpoint(cfg.qat_from, cfg.model, len(LABELS)).model.to(device, memory_format=torch.channels_last).eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
    saved = sit.saved
    before = saved.info["val_before"] if saved is not None else (
        _summary(compute_metrics(val.labels, predict_logits(model, val.x).argmax(1), LABELS)))
    labels_t = torch.tensor(labels, dtype=torch.long)

    # model.eval() throughout: BN uses (and never updates) its running statistics, so folding is exact
    state = insert_fake_quant(model, cfg.momentum, cfg.seed, cfg.weight_bits)
    steps = len(tasks)
    opt = torch.optim.AdamW(_param_groups(model, cfg.weight_decay), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(steps, 0))
    running, done, train_s_before, elapsed_before, sittings = torch.zeros((), device=device), 0, 0.0, 0.0, 1
    if saved is None:
        init_ranges(model, state, (to_device(xb, device) for xb in aug.batches(init_tasks)))
        _log(f"fake quant on {len(state.observers)} activation tensors; ranges from {cfg.init_batches} batches; "
             f"device {device}, {cfg.workers} augmentation workers")
    else:
        model.load_state_dict(unprefixed("model", saved.tensors), strict=True)
        for name, r in unprefixed("obs", saved.tensors).items():
            state.observers[name].range = r.to(device)
        state.gen.set_state(saved.tensors["qat.gen"])
        load_optimizer(opt, saved)
        load_scheduler(sched, saved)
        set_rng_state(saved, sit.np_rng)
        running = saved.tensors["qat.running"].to(device)
        done, train_s_before = saved.info["step"], saved.info["train_s"]
        elapsed_before, sittings = saved.info["elapsed_s"], saved.info["sittings"] + 1
        _log(f"resumed from {saved.path} after step {done}/{steps} (sitting {sittings}); device {device}, "
             f"{cfg.workers} augmentation workers")
    ce = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)

    def elapsed() -> float:
        return elapsed_before + time.time() - t_start

    t0, epochs_now = time.time(), 0
    todo = tasks[done:]
    for step, (xb, yb) in enumerate(device_batches(aug, todo, labels_t, device), start=done):
        t_logp = None
        if teacher is not None:
            with torch.no_grad():
                t_logp = torch.log_softmax(teacher(xb), 1)

        def objective(logits: torch.Tensor, t_logp: torch.Tensor | None = t_logp, yb: torch.Tensor = yb) -> torch.Tensor:
            loss = ce(logits, yb)
            if t_logp is not None:
                kd = torch.nn.functional.kl_div(torch.log_softmax(logits, 1), t_logp, log_target=True, reduction="batchmean")
                loss = (1.0 - cfg.distill) * loss + cfg.distill * kd
            return loss

        opt.zero_grad(set_to_none=True)
        loss = (1.0 - cfg.float_weight) * objective(model(xb))
        if cfg.float_weight > 0:  # the float forward on the same weights stays a target
            loss.backward()  # free the fake-quant graph before building the float one
            with float_forward(state):
                loss_f = cfg.float_weight * objective(model(xb))
            loss_f.backward()
            loss = loss.detach() + loss_f.detach()
        else:
            loss.backward()
        opt.step()
        sched.step()
        running += loss.detach()
        if (step + 1) % 25 == 0 or step + 1 == steps:
            _log(f"QAT step {step + 1}/{steps} loss {float(running) / (step + 1):.4f} "
                 f"({(step + 1 - done) * cfg.batch_size / (time.time() - t0):.1f} img/s)")
        if (step + 1) % sit.epoch_steps == 0 and step + 1 < steps:
            epochs_now += 1
            opt_tensors, opt_info = optimizer_state(opt)
            rng_tensors, rng_info = rng_state(sit.np_rng)
            obs = {k: o.range for k, o in state.observers.items() if o.range is not None}
            write_state(out, {**prefixed("model", model.state_dict()), **opt_tensors, **rng_tensors,
                              **prefixed("obs", obs), "qat.gen": state.gen.get_state(), "qat.running": running},
                        {"stage": "qat", "config": asdict(cfg), "data_key": sit.data_key, "step": step + 1,
                         "optimizer": opt_info, "scheduler": scheduler_state(sched), "rng": rng_info,
                         "val_before": before, "train_s": train_s_before + time.time() - t0, "elapsed_s": elapsed(),
                         "sittings": sittings, "torch": torch.__version__})
            if sit.sitting.epochs is not None and epochs_now >= sit.sitting.epochs:
                _log(f"stopping after {epochs_now} epochs this sitting (step {step + 1}/{steps}); continue with the "
                     f"same command plus --resume {out}")
                return {"stopped_after_step": step + 1, "steps": steps}
    train_s = train_s_before + time.time() - t0
    state.mode = "frozen"
    m_fq = compute_metrics(val.labels, predict_logits(model, val.x).argmax(1), LABELS)
    remove_fake_quant(state)
    save_safetensors(model, ckpt, meta)
    final = load_checkpoint(ckpt, cfg.model, len(LABELS)).model.to(device, memory_format=torch.channels_last)
    m_val = compute_metrics(val.labels, predict_logits(final, val.x).argmax(1), LABELS)
    _log(f"QAT done ({train_s:.0f}s): {val_name(cfg.train_on)} float acc {before['accuracy']:.4f} bal {before['balanced_accuracy']:.4f} -> "
         f"{m_val.accuracy:.4f} / {m_val.balanced_accuracy:.4f}; fake-quant val {m_fq.accuracy:.4f} / {m_fq.balanced_accuracy:.4f}")
    result = {"config": asdict(cfg), "torch": torch.__version__, "steps": steps, "train_images": len(labels),
              "val_in_training_data": val_trained_on(cfg.train_on), "train_s": round(train_s, 1),
              "wall_time_s": round(elapsed(), 1), "sittings": sittings, "val_before": before,
              "val_fake_quant": _summary(m_fq), "val": _summary(m_val)}
    # the base training's metrics (next to --qat-from, else already in --out) plus this stage under "qat"
    path = out / f"{cfg.model}_ham10000.metrics.json"
    src = Path(cfg.qat_from).with_name(f"{cfg.model}_ham10000.metrics.json")
    src = src if src.is_file() else path
    doc = json.loads(src.read_text()) if src.is_file() else {}
    if "qat" in doc:  # QAT from a QAT checkpoint: the earlier stages stay, in order
        doc.setdefault("qat_earlier", []).append(doc.pop("qat"))
    doc["qat"] = result
    _write_json(path, doc)
    state_path(out).unlink(missing_ok=True)  # finished: nothing left to resume
    return result
