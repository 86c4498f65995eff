"""quantization_report.json: per-layer parameters and SQNR against the float model, and totals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sramflow.ir.graph import Graph
from sramflow.ir.qgraph import QuantizedGraph
from sramflow.reference.float_exec import run_float
from sramflow.reference.run import dequantize, quantize_input, run_int8


def sqnr_db(signal_power: float, noise_power: float) -> float | None:
    if noise_power == 0:
        return None  # exact
    return float(10.0 * np.log10(max(signal_power, 1e-30) / noise_power))


@dataclass
class _Acc:
    signal: float = 0.0
    noise: float = 0.0


def layer_sqnr(graph: Graph, q: QuantizedGraph, images: np.ndarray, batch_size: int = 4) -> tuple[dict[str, _Acc], np.ndarray, np.ndarray]:
    """Accumulate per-tensor signal and noise power (float vs dequantized int8 on the same input)
    and return the float and int8 logits."""
    acc: dict[str, _Acc] = {}
    float_logits, int_logits = [], []
    for i in range(0, images.shape[0], batch_size):
        x = images[i:i + batch_size]
        ints = run_int8(q, quantize_input(q, x))

        def hook(name: str, y: np.ndarray) -> None:
            if name in ints:
                d = dequantize(q, name, ints[name]).reshape(y.shape)
                a = acc.setdefault(name, _Acc())
                a.signal += float(np.square(y, dtype=np.float64).sum())
                a.noise += float(np.square(y.astype(np.float64) - d).sum())

        out = run_float(graph, x, on_tensor=hook)[graph.output]
        float_logits.append(out.reshape(out.shape[0], -1))
        int_logits.append(dequantize(q, q.output, ints[q.output]).reshape(out.shape[0], -1))
    return acc, np.concatenate(float_logits), np.concatenate(int_logits)


def build_report(graph: Graph, q: QuantizedGraph, images: np.ndarray, extra: dict) -> dict:
    acc, f_logits, i_logits = layer_sqnr(graph, q, images)
    layers = []
    w_int8 = b_int32 = w_packed = 0
    for op in q.ops:
        t = q.tensor(op.output)
        entry = {"name": op.name, "tflite_op": op.kind, "ir_nodes": list(op.ir_nodes), "output": op.output,
                 "activation_scale": t.scale, "activation_zero_point": t.zero_point}
        if "weights" in op.params:
            ws = op.params["weight_scales"]
            bits = int(op.attrs.get("weight_bits", 8))
            packed = -(-int(op.params["weights"].size) * bits // 8)  # INT4: two per byte
            entry.update(weight_scale_min=float(ws.min()), weight_scale_max=float(ws.max()), weight_bits=bits,
                         weight_bytes=packed, bias_bytes=int(op.params["bias"].size * 4),
                         fused_activation=op.attrs["fused"])
            w_int8 += int(op.params["weights"].size)
            w_packed += packed
            b_int32 += int(op.params["bias"].size * 4)
        a = acc.get(op.output)
        entry["sqnr_db"] = sqnr_db(a.signal, a.noise) if a else None
        layers.append(entry)
    float_params = sum(int(n.weights["W"].size + n.weights["B"].size) for n in graph.nodes if n.op in ("Conv", "Gemm"))
    e2e_signal = float(np.square(f_logits, dtype=np.float64).sum())
    e2e_noise = float(np.square(f_logits.astype(np.float64) - i_logits).sum())
    totals = {
        "float32_weight_bytes": float_params * 4,
        "int8_weight_bytes": w_int8,
        "int32_bias_bytes": b_int32,
        "int8_total_bytes": w_int8 + b_int32,
        "packed_weight_bytes": w_packed,  # INT4 weights two per byte (= int8_weight_bytes for an all-INT8 model)
        "packed_total_bytes": w_packed + b_int32,
        "compression_ratio": round(float_params * 4 / max(w_packed + b_int32, 1), 3),
        "compression_note": ("4:1 on weights; int32 biases keep their 4 bytes" if w_packed == w_int8 else
                             "4:1 on INT8 weights, 8:1 on INT4 ones; int32 biases keep their 4 bytes"),
    }
    return {
        "model": q.name, "method": q.method, "calibration": q.calibration,
        "spec": "TFLite int8: per-channel symmetric int8 weights [-127, 127], per-tensor asymmetric int8 "
                "activations, int32 bias (scale in_scale x w_scale), QuantizeMultiplier multipliers",
        **extra,
        "end_to_end": {"images": int(f_logits.shape[0]),
                       "top1_agreement": float((f_logits.argmax(1) == i_logits.argmax(1)).mean()),
                       "logit_sqnr_db": sqnr_db(e2e_signal, e2e_noise)},
        "totals": totals,
        "layers": layers,
    }
