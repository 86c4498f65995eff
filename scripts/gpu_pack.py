"""Pack a checkpoint for the trip back from a lent GPU machine, and unpack it here (scripts/gpu_cv224.sh).

    python scripts/gpu_pack.py SRC DST [--half]   # SRC: a checkpoint, or a stage folder (its train-state)
    python scripts/gpu_pack.py SRC DST --expand   # float16 tensors back to float32, for `sramflow evaluate`

``--half`` rounds every floating tensor of two or more dimensions (conv and linear weights, 98 % of B0's bytes) to
float16 and keeps the rest (BatchNorm statistics, biases) in float32: 15.5 MiB -> 8.2 MiB, so five fold models
and one float32 model fit under the 64 MiB that comes back. The header records it (``rounded: float16``) and
``--expand`` keeps that note, so a figure measured on such weights can say so. A stage folder holding a
training state (a stage stopped mid-way) gives the model of its last finished epoch (``model.*`` of ``train-state.safetensors``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

CKPT = "efficientnet_b0_ham10000.safetensors"
STATE = "train-state.safetensors"
CLASSES = "akiec,bcc,bkl,df,mel,nv,vasc"


def _read(src: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    if src.is_dir() and not (src / STATE).exists() and (src / CKPT).exists():
        src = src / CKPT  # a stage that finished; one stopped mid-way keeps the state of its last finished epoch
    if src.is_file():
        with safe_open(str(src), "pt") as f:
            meta = dict(f.metadata() or {})
        return load_file(str(src)), meta
    state = src / STATE
    if not state.exists():
        raise SystemExit(f"{src}: neither {CKPT} nor {STATE}")
    with safe_open(str(state), "pt") as f:
        info = json.loads((f.metadata() or {}).get("state", "{}"))
    tensors = load_file(str(state))
    sd = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    cfg = info.get("config", {})
    meta = {"format": "pt", "layout": "torchvision", "model": str(cfg.get("model", "efficientnet_b0")),
            "resolution": str(cfg.get("resolution", "")), "classes": CLASSES,
            "partial": f"{info.get('stage', '?')} stage stopped at the deadline; its state after "
                       f"{'epoch ' + str(info['epoch']) if 'epoch' in info else 'step ' + str(info.get('step', '?'))}"}
    return sd, meta


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("src", type=Path)
    p.add_argument("dst", type=Path)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--half", action="store_true")
    g.add_argument("--expand", action="store_true")
    a = p.parse_args(argv)
    sd, meta = _read(a.src)
    if a.half:
        sd = {k: (v.half() if v.is_floating_point() and v.dim() >= 2 else v.float() if v.is_floating_point() else v)
              for k, v in sd.items()}
        meta["rounded"] = "float16 (tensors of 2+ dimensions, for the transfer)"
    elif a.expand:
        sd = {k: (v.float() if v.is_floating_point() else v) for k, v in sd.items()}
    sd = {k: v.contiguous() for k, v in sd.items()}
    a.dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = a.dst.with_suffix(".tmp")
    save_file(sd, str(tmp), metadata=meta)
    tmp.replace(a.dst)
    print(f"packed {a.src} -> {a.dst} ({a.dst.stat().st_size / 2**20:.1f} MiB)", file=sys.stderr)


if __name__ == "__main__":
    main()
