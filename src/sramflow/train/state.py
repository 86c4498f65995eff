"""Resumable training: the state of a stage after its last finished epoch, in one file written atomically.

``python -m sramflow.train ... --resume DIR`` continues the run whose ``--out`` was DIR from the state file
there. One safetensors file holds every tensor as a plain tensor (model, optimizer moments, EMA, the best
epoch's weights, the torch RNG states, QAT activation ranges); everything else (configuration, epoch,
scheduler, python and numpy RNG states, history, best-so-far bookkeeping) is one JSON string in its
header. Reading it never unpickles anything. It is written to a temporary file then ``os.replace``-d, so a
run killed at any moment leaves either the previous epoch's state or this one's, never a torn file.

The state is removed when the stage finishes: a finished run has nothing to resume.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sramflow.errors import CheckpointError

STATE_NAME = "train-state.safetensors"
FORMAT = "sramflow-train-state/1"
# may change between sittings without changing the result (CPU threads may change float rounding order: logged)
MAY_DIFFER = frozenset({"data", "threads", "device", "workers"})


class ResumeError(CheckpointError):
    """``--resume`` cannot continue: no state, an unreadable state, or a state of a different run."""


@dataclass(frozen=True)
class Sitting:
    """How this process runs a stage: from the start or from DIR's state, and how many epochs before it stops."""

    resume: bool = False
    epochs: int | None = None  # stop after this many finished epochs (the state is written), None: to the end


@dataclass(frozen=True)
class SavedState:
    path: Path
    tensors: dict[str, torch.Tensor]
    info: dict


def state_path(out: str | Path) -> Path:
    return Path(out) / STATE_NAME


def write_state(out: str | Path, tensors: dict[str, torch.Tensor], info: dict) -> Path:
    """Atomically replace ``out/train-state.safetensors``: tensors as they are, ``info`` as JSON in the header."""
    from safetensors.torch import save_file

    path = state_path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    plain = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    tmp = path.with_name(path.name + ".tmp")
    save_file(plain, str(tmp), metadata={"format": "pt", "sramflow": FORMAT, "state": json.dumps(info)})
    os.replace(tmp, path)
    return path


def read_state(out: str | Path, stage: str, finished_hint: Path | None = None) -> SavedState:
    """The state in ``out`` written by ``stage`` (``base`` | ``qat``); a :class:`ResumeError` says why not."""
    from safetensors import safe_open

    d = Path(out)
    path = state_path(d)
    if not d.is_dir():
        raise ResumeError(f"--resume {d}: no such directory")
    if not path.is_file():
        if finished_hint is not None and finished_hint.is_file() and _finished(finished_hint):
            raise ResumeError(f"--resume {d}: the run there has finished ({finished_hint.name} holds its result), "
                              "nothing to resume; run without --resume (and another --out) to train again")
        raise ResumeError(f"--resume {d}: no training state ({path.name}); a run writes it after each finished epoch. "
                          "Run without --resume to start")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # safetensors raises several error types for corrupt files
        raise ResumeError(f"{path}: not a readable training state (truncated or corrupt?): {str(exc)[:200]}") from None
    if meta.get("sramflow") != FORMAT:
        raise ResumeError(f"{path}: not a {FORMAT} file (header says {meta.get('sramflow')!r})")
    info = json.loads(meta["state"])
    if info.get("stage") != stage:
        raise ResumeError(f"{path}: written by the {info.get('stage')} stage, but this command runs the {stage} stage "
                          f"({'add' if info.get('stage') == 'qat' else 'drop'} --qat-from)")
    return SavedState(path, tensors, info)


def _finished(metrics_path: Path) -> bool:
    try:
        doc = json.loads(metrics_path.read_text())
    except (OSError, ValueError):
        return False
    return doc.get("result") is not None or "qat" in doc


def check_same_run(saved: SavedState, config: dict, data_key: dict, defaults: dict | None = None) -> list[str]:
    """The resumed run must be the run that wrote the state: same configuration (but ``MAY_DIFFER``), same data.
    A field the state lacks (an option added since it was written) counts as its value in ``defaults``, the
    option's off-value, so such a state still resumes when the option is left off.

    Returns the ``MAY_DIFFER`` fields that changed, as ``field: before -> now``.
    """
    before = {**(defaults or {}), **saved.info["config"]}
    for k in sorted(set(before) | set(config)):
        if k in MAY_DIFFER or k == "out":  # the state was read from out: it is that run's folder, however spelled
            continue
        if before.get(k, "<absent>") != config.get(k, "<absent>"):
            raise ResumeError(f"{saved.path}: written by a run with {k}={before.get(k, '<absent>')!r}, "
                              f"this command has {k}={config.get(k, '<absent>')!r}; resume with the same options "
                              f"(only {', '.join(sorted(MAY_DIFFER))} may change between sittings)")
    for k, v in data_key.items():
        if saved.info["data_key"].get(k) != v:
            what, fix = _DATA_KEYS.get(k, (k, "the same inputs"))
            raise ResumeError(f"{saved.path}: the {what} differs from the run that wrote the state "
                              f"({saved.info['data_key'].get(k)} then, {v} now); resuming needs {fix}")
    return [f"{k}: {before.get(k)} -> {config.get(k)}" for k in sorted(MAY_DIFFER) if before.get(k) != config.get(k)]


_DATA_KEYS = {  # data_key field: (what it is, what resuming needs)
    "training_images": ("number of training images", "the same data folder and split file"),
    "training_ids_sha256": ("hash of the training image ids and labels", "the same data folder and split file"),
    "val_images": ("number of val images", "the same data folder and split file"),
    "qat_from_sha256": ("--qat-from checkpoint (sha256)", "the same --qat-from file"),
}


def data_key(names: Iterable[str], labels: Iterable[int], n_val: int) -> dict:
    """What identifies the training data across sittings (the folder may move): ids and labels, and the val size."""
    names, labels = list(names), list(labels)
    h = hashlib.sha256("\n".join(f"{n},{y}" for n, y in zip(names, labels)).encode()).hexdigest()
    return {"training_images": len(labels), "training_ids_sha256": h[:16], "val_images": n_val}


# --- RNG states: python, numpy (global and the run's generator), torch (CPU and CUDA) -----------------------

def rng_state(run_rng: np.random.Generator) -> tuple[dict[str, torch.Tensor], dict]:
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors.update({f"rng.cuda.{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    version, mt, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    info = {"python": [version, list(mt), gauss],
            "numpy_global": [name, [int(k) for k in keys], int(pos), int(has_gauss), float(cached)],
            "numpy_run": run_rng.bit_generator.state}
    return tensors, info


def set_rng_state(saved: SavedState, run_rng: np.random.Generator) -> None:
    info = saved.info["rng"]
    version, mt, gauss = info["python"]
    random.setstate((version, tuple(mt), gauss))
    name, keys, pos, has_gauss, cached = info["numpy_global"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    run_rng.bit_generator.state = info["numpy_run"]
    torch.set_rng_state(saved.tensors["rng.torch"])
    cuda = sorted((k for k in saved.tensors if k.startswith("rng.cuda.")), key=lambda k: int(k.rsplit(".", 1)[1]))
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([saved.tensors[k] for k in cuda])


# --- optimizer and scheduler ---------------------------------------------------------------------------------

def optimizer_state(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Per-parameter tensors as ``opt.<param index>.<name>``; groups and any non-tensor values as JSON."""
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for i, st in sd["state"].items():
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"opt.{i}.{k}"] = v
            else:
                scalars.setdefault(str(i), {})[k] = v
    return tensors, {"groups": sd["param_groups"], "scalars": scalars}


def load_optimizer(opt: torch.optim.Optimizer, saved: SavedState) -> None:
    state: dict[int, dict] = {}
    for key, v in saved.tensors.items():
        if key.startswith("opt."):
            _, i, name = key.split(".", 2)
            state.setdefault(int(i), {})[name] = v
    for i, st in saved.info["optimizer"]["scalars"].items():
        state.setdefault(int(i), {}).update(st)
    # JSON turned tuples (betas) into lists
    groups = [{k: (tuple(v) if isinstance(v, list) and k != "params" else v) for k, v in g.items()}
              for g in saved.info["optimizer"]["groups"]]
    opt.load_state_dict({"state": state, "param_groups": groups})


def scheduler_state(sched: torch.optim.lr_scheduler.LRScheduler) -> dict:
    return {k: v for k, v in sched.state_dict().items() if k != "lr_lambdas"}


def load_scheduler(sched: torch.optim.lr_scheduler.LRScheduler, saved: SavedState) -> None:
    sd = dict(saved.info["scheduler"])
    sd["lr_lambdas"] = [None] * len(sched.optimizer.param_groups)  # functions of the config, rebuilt identically
    sched.load_state_dict(sd)


def prefixed(prefix: str, sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in sd.items()}


def unprefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    p = prefix + "."
    return {k[len(p):]: v for k, v in tensors.items() if k.startswith(p)}


# --- exponential moving average of the weights ---------------------------------------------------------------

class EMA:
    """A copy of the model whose floating state (weights and BN statistics) follows the trained one.

    After update n: ``ema = d * ema + (1 - d) * model`` with ``d = min(decay, (1 + n) / (10 + n))`` (the
    warm-up of TensorFlow's ExponentialMovingAverage with num_updates, so a short run is not dominated by
    the initial weights); integer buffers (BN's batch counter) are copied.
    """

    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay, self.updates = decay, 0
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        mine = self.module.state_dict()
        for k, v in model.state_dict().items():
            if v.is_floating_point():
                mine[k].mul_(d).add_(v.detach(), alpha=1.0 - d)
            else:
                mine[k].copy_(v)

    def load(self, sd: dict[str, torch.Tensor], updates: int) -> None:
        self.module.load_state_dict(sd, strict=True)
        self.updates = updates
