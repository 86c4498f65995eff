"""Element-wise operators as data: one row per IR op, read generically by every stage.

A row says what is the same for every element-wise op and differs only in values: which ONNX op types import
as it (and how a constant operand is rewritten on the way, e.g. Div by c as Mul by 1/c), its arity, its ONNX
attributes with their defaults, its float semantics, the TFLite builtin(s) its int8 form is written as (code
name, op version, options as plain data) and what it costs per element on the vector unit. Readers:
- ``frontend.onnx_import``: one handler per ``OnnxForm`` (attributes, constant operand, constant folding);
- ``ir.shapes``: arity 1 keeps the shape, arity 2 broadcasts (with ``weights["const"]``);
- ``reference.float_exec``: ``float_fn``;
- ``tflite.export``: a kind with a ``TfliteBuiltin`` row is one builtin with its options;
- ``mapping.lower``: ``VectorCost`` (and arity 2 -> the broadcast lowering).
What stays code, per op: the int8 quantization rule (``quant.quantize``: ``op_<Op>``) and the int8 kernel
(``reference.kernels``: the kernel and its ``ELEMENTWISE`` entry), and an exporter for kinds written as several
builtins (CLIP, HARD_SIGMOID). The functional simulator takes the kernel from ``reference.run.RUNNERS``.

It sits in the IR layer (numpy only): the mapper reads it without importing the quantizer or the kernels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sramflow.errors import GraphError

FloatFn = Callable[..., np.ndarray]  # (node attrs, x[, y]) -> float32 result, batch axis first


@dataclass(frozen=True)
class OnnxForm:
    """An ONNX op type imported as the row's IR op. ``const_map`` (binary only): the second operand must be a
    constant and is replaced by ``const_map(c)`` (Div by c -> Mul by the float32 reciprocal, what TensorFlow's
    constant folding ReduceDivToReciprocalMul does before the TFLite converter sees the graph). ``fold``: the
    numpy function that folds two constant operands."""

    onnx_op: str
    fold: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    const_map: Callable[[np.ndarray], np.ndarray] | None = None


@dataclass(frozen=True)
class TfliteBuiltin:
    """One TFLite builtin per QOp of ``kind`` (the BuiltinOperator name): the op version the converter writes for
    int8, the BuiltinOptions table name ("" for none) and (options field, QOp attr) pairs copied into it."""

    kind: str
    version: int
    options: str = ""
    option_fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class VectorCost:
    """Vector-unit work per output element: ALU ops (requantizing the result counts as one) and LUT look-ups."""

    ops_per_elem: int
    lut_per_elem: int


@dataclass(frozen=True)
class ElementwiseOp:
    op: str  # the IR op name
    arity: int  # 1: one activation; 2: two activations that broadcast, or one and weights["const"]
    float_fn: FloatFn
    vector: VectorCost
    onnx: tuple[OnnxForm, ...] = ()  # empty: the importer has its own handler (Clip: bounds from inputs)
    attrs: tuple[tuple[str, float], ...] = ()  # ONNX attribute -> IR attr of the same name (float), default
    commutative: bool = True  # arity 2: False -> only activation op constant is accepted, in that order
    kinds: tuple[TfliteBuiltin | str, ...] = ()  # the QOp kinds its quantizer emits; a str: own exporter

    def attr_values(self, given: Mapping[str, Any]) -> dict[str, float]:
        return {k: float(given.get(k, default)) for k, default in self.attrs}


def _relu(a: Mapping[str, Any], x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def _sigmoid(a: Mapping[str, Any], x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # e^-x = inf for very negative x gives the right limit, 0
        return (1.0 / (1.0 + np.exp(-x))).astype(np.float32)


def _clip(a: Mapping[str, Any], x: np.ndarray) -> np.ndarray:
    return np.clip(x, a["min"], a["max"])


def _hardsigmoid(a: Mapping[str, Any], x: np.ndarray) -> np.ndarray:
    return np.clip(a["alpha"] * x + a["beta"], 0.0, 1.0).astype(np.float32)


def _hardswish(a: Mapping[str, Any], x: np.ndarray) -> np.ndarray:
    return x * np.clip(x / 6.0 + 0.5, 0.0, 1.0)


def _leaky_relu(a: Mapping[str, Any], x: np.ndarray) -> np.ndarray:
    return np.where(x >= 0, x, np.float32(a["alpha"]) * x).astype(np.float32)


def _prelu(a: Mapping[str, Any], x: np.ndarray, slope: np.ndarray) -> np.ndarray:
    return np.where(x >= 0, x, slope * x).astype(np.float32)


def _reciprocal(c: np.ndarray) -> np.ndarray:
    """Div by c as Mul by 1 / c, rounded once to float32 (TensorFlow's Reciprocal of a float32 constant)."""
    c = np.asarray(c, np.float32)
    if not np.all(np.isfinite(c)) or np.any(c == 0):
        raise GraphError(f"Div by a constant that holds 0 or a non-finite value ({c.ravel()[:4]}...): it has "
                         "no finite reciprocal to multiply by")
    return (np.float32(1.0) / c).astype(np.float32)


BINARY_COST = VectorCost(2, 0)  # the add / multiply and its requantization
LUT_COST = VectorCost(0, 1)  # a 256-entry table look-up yields the requantized result
CLAMP_COST = VectorCost(1, 0)  # rescale-and-clamp as one op
SELECT_COST = VectorCost(2, 0)  # the sign test picks one of two multipliers, then rescale-and-clamp
PRELU_COST = VectorCost(3, 0)  # the sign test, the product with the slope, then rescale-and-clamp

ELEMENTWISE_OPS: tuple[ElementwiseOp, ...] = (
    ElementwiseOp("Add", 2, lambda a, x, y: x + y, BINARY_COST, (OnnxForm("Add", fold=np.add),),
                  kinds=(TfliteBuiltin("ADD", 2, "AddOptions"),)),
    ElementwiseOp("Mul", 2, lambda a, x, y: x * y, BINARY_COST,
                  (OnnxForm("Mul", fold=np.multiply), OnnxForm("Div", fold=np.divide, const_map=_reciprocal)),
                  kinds=(TfliteBuiltin("MUL", 2, "MulOptions"),)),
    ElementwiseOp("Sub", 2, lambda a, x, y: x - y, BINARY_COST, (OnnxForm("Sub", fold=np.subtract),),
                  commutative=False, kinds=(TfliteBuiltin("SUB", 2, "SubOptions"),)),
    ElementwiseOp("Sigmoid", 1, _sigmoid, LUT_COST, (OnnxForm("Sigmoid"),), kinds=(TfliteBuiltin("LOGISTIC", 2),)),
    ElementwiseOp("Relu", 1, _relu, CLAMP_COST, (OnnxForm("Relu"),), kinds=(TfliteBuiltin("RELU", 2),)),
    ElementwiseOp("Clip", 1, _clip, CLAMP_COST, (), kinds=(TfliteBuiltin("RELU6", 2), "CLIP")),
    ElementwiseOp("HardSigmoid", 1, _hardsigmoid, LUT_COST, (OnnxForm("HardSigmoid"),),
                  (("alpha", 0.2), ("beta", 0.5)), kinds=("HARD_SIGMOID",)),
    ElementwiseOp("HardSwish", 1, _hardswish, LUT_COST, (OnnxForm("HardSwish"),),
                  kinds=(TfliteBuiltin("HARD_SWISH", 1),)),
    ElementwiseOp("LeakyRelu", 1, _leaky_relu, SELECT_COST, (OnnxForm("LeakyRelu"),), (("alpha", 0.01),),
                  kinds=(TfliteBuiltin("LEAKY_RELU", 2, "LeakyReluOptions", (("alpha", "alpha"),)),)),
    # the slope is a constant (per channel or one value): const_map only insists on that
    ElementwiseOp("PRelu", 2, _prelu, PRELU_COST, (OnnxForm("PRelu", const_map=lambda c: c),), commutative=False,
                  kinds=(TfliteBuiltin("PRELU", 1),)),
    # no ONNX form: inserted in front of a Concat input that cannot share the Concat's scale (ir.movement);
    # the float identity, TFLite's QUANTIZE int8 -> int8 (quantize.cc: MultiplyByQuantizedMultiplier, then clamp)
    ElementwiseOp("Requantize", 1, lambda a, x: x, CLAMP_COST, (), kinds=(TfliteBuiltin("QUANTIZE", 2),)),
)
BY_OP: dict[str, ElementwiseOp] = {e.op: e for e in ELEMENTWISE_OPS}
BUILTINS: dict[str, TfliteBuiltin] = {k.kind: k for e in ELEMENTWISE_OPS for k in e.kinds
                                      if isinstance(k, TfliteBuiltin)}
ELEMENTWISE_KINDS: tuple[str, ...] = tuple(dict.fromkeys(k.kind if isinstance(k, TfliteBuiltin) else k
                                                         for e in ELEMENTWISE_OPS for k in e.kinds))
UNARY_OPS = tuple(e.op for e in ELEMENTWISE_OPS if e.arity == 1)
BINARY_OPS = tuple(e.op for e in ELEMENTWISE_OPS if e.arity == 2)
BINARY_KINDS = tuple(dict.fromkeys(k.kind if isinstance(k, TfliteBuiltin) else k
                                   for e in ELEMENTWISE_OPS if e.arity == 2 for k in e.kinds))
