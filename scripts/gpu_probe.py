"""Time base-training and QAT steps of EfficientNet-B0 on random data (the GPU run sizes its epochs from this).

``python scripts/gpu_probe.py --resolution 224 --steps 20`` prints one JSON line:
{"base_step_s": ..., "qat_step_s": ..., "device": ...}. Warm-up steps are excluded.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # three probes share the CPUs, as the variants will

import torch
from torch import nn

from sramflow.models.efficientnet import build_model
from sramflow.train.loop import resolve_device
from sramflow.train.qat import float_forward, init_ranges, insert_fake_quant


def _time_steps(step, n: int, device: torch.device) -> float:  # noqa: ANN001 - a zero-argument callable
    for _ in range(3):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.time()
    for _ in range(n):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.time() - t0) / n


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--resolution", type=int, default=224)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--device", default="auto")
    a = p.parse_args()
    device = resolve_device(a.device)
    torch.set_num_threads(1)
    torch.backends.cudnn.benchmark = True
    x = torch.randn(a.batch_size, 3, a.resolution, a.resolution, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 7, (a.batch_size,), device=device)
    ce = nn.CrossEntropyLoss(label_smoothing=0.1)

    model = build_model("efficientnet_b0", 7).to(device, memory_format=torch.channels_last).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def base_step() -> None:
        loss = ce(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    base_s = _time_steps(base_step, a.steps, device)
    model.eval()
    state = insert_fake_quant(model)
    init_ranges(model, state, [x])

    def qat_step() -> None:
        opt.zero_grad(set_to_none=True)
        (0.5 * ce(model(x), y)).backward()
        with float_forward(state):
            (0.5 * ce(model(x), y)).backward()
        opt.step()

    qat_s = _time_steps(qat_step, max(5, a.steps // 2), device)
    print(json.dumps({"base_step_s": round(base_s, 5), "qat_step_s": round(qat_s, 5), "device": str(device),
                      "name": torch.cuda.get_device_name() if device.type == "cuda" else "cpu"}), flush=True)


if __name__ == "__main__":
    main()
