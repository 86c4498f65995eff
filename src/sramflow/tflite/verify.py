"""Run a .tflite in LiteRT's reference kernels (BUILTIN_REF, never XNNPACK or the optimized kernels:
their rounding differs) keeping every intermediate tensor, and compare each with the integer reference."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sramflow.ir.qgraph import QuantizedGraph
from sramflow.reference.run import run_int8
from sramflow.tflite.export import to_nchw, to_nhwc


@dataclass(frozen=True)
class TensorDiff:
    name: str
    mismatched_elements: int
    elements: int
    max_abs_diff: int


@dataclass(frozen=True)
class VerifyResult:
    images: int
    tensors_compared: int
    tensors_mismatched: int
    max_abs_diff: int
    first_mismatch: TensorDiff | None
    per_tensor: tuple[TensorDiff, ...]

    def to_dict(self) -> dict:
        first = None if self.first_mismatch is None else self.first_mismatch.__dict__
        return {"images": self.images, "oracle": "LiteRT BUILTIN_REF (reference kernels), preserve_all_tensors",
                "tensors_compared": self.tensors_compared, "tensors_mismatched": self.tensors_mismatched,
                "max_abs_diff": self.max_abs_diff, "first_mismatch": first,
                "mismatched": [d.__dict__ for d in self.per_tensor if d.mismatched_elements]}


def reference_interpreter(model: str | Path | bytes):  # noqa: ANN201 - a LiteRT Interpreter
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kw = {"model_content": model} if isinstance(model, bytes) else {"model_path": str(model)}
    it = Interpreter(**kw, experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                     experimental_preserve_all_tensors=True, num_threads=1)
    it.allocate_tensors()
    return it


def run_litert(it, x_int8_nchw: np.ndarray) -> dict[str, np.ndarray]:  # noqa: ANN001
    """One image (batch 1) through the interpreter; every int8 tensor by name, back in NCHW."""
    inp = it.get_input_details()[0]
    it.set_tensor(inp["index"], to_nhwc(x_int8_nchw))
    it.invoke()
    out = {}
    for d in it.get_tensor_details():
        if d["dtype"] != np.int8 or not d["name"]:
            continue
        try:
            out[d["name"]] = to_nchw(it.get_tensor(d["index"]))
        except ValueError:  # tensors without data (none expected with preserve_all_tensors)
            continue
    return out


def compare(q: QuantizedGraph, ref: dict[str, np.ndarray], lite: dict[str, np.ndarray]) -> list[TensorDiff]:
    """Every tensor the quantized graph defines, in execution order, against LiteRT's."""
    names = [q.input] + [name for op in q.ops for name in op.tensors_written]
    diffs = []
    for name in names:
        if name not in lite:
            raise KeyError(f"tensor {name!r} is missing from the LiteRT model")
        a = ref[name].astype(np.int32).reshape(lite[name].shape)
        d = np.abs(a - lite[name].astype(np.int32))
        diffs.append(TensorDiff(name, int((d > 0).sum()), int(d.size), int(d.max(initial=0))))
    return diffs


def verify(q: QuantizedGraph, model: str | Path | bytes, images_int8: np.ndarray) -> VerifyResult:
    it = reference_interpreter(model)
    all_diffs: list[TensorDiff] = []
    for i in range(images_int8.shape[0]):
        x = images_int8[i:i + 1]
        all_diffs += compare(q, run_int8(q, x), run_litert(it, x))
    bad = [d for d in all_diffs if d.mismatched_elements]
    return VerifyResult(int(images_int8.shape[0]), len(all_diffs), len(bad), max((d.max_abs_diff for d in all_diffs), default=0),
                        bad[0] if bad else None, tuple(all_diffs))
