"""QuantizedGraph -> .tflite flatbuffer (schema object API bundled in ai-edge-litert; no TensorFlow).

TFLite is NHWC: activations (1, C, H, W) become (1, H, W, C); conv filters [Cout, kh, kw, Cin] with
quantized_dimension 0; depthwise filters [1, kh, kw, Cout] with quantized_dimension 3; FC [out, in].
Tensor names are the IR's, so every tensor can be matched to the integer reference by name.
A convolution whose padding is neither VALID nor TFLite SAME (PyTorch's symmetric padding at stride 2)
gets an explicit PAD op in front, as the TFLite converter emits; PAD fills with the zero point.
INT4 weights (``attrs["weight_bits"] == 4``, ``quant.weight_bits``) are TensorType.INT4 tensors packed two per
byte, low nibble first (``ir.precision.pack_int4``); the installed LiteRT's BUILTIN_REF CONV_2D,
DEPTHWISE_CONV_2D and FULLY_CONNECTED run them (tests/test_int4_weights.py checks it tensor by tensor).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sramflow.errors import QuantizationError
from sramflow.ir.elementwise import BUILTINS, TfliteBuiltin
from sramflow.ir.precision import pack_int4
from sramflow.ir.qgraph import QOp, QTensor, QuantizedGraph
from sramflow.ir.shapes import tflite_same_pads

# (builtin name, op version) per kind; versions are those the converter writes for int8. The element-wise
# builtins' versions are in their ir.elementwise rows.
OP_VERSIONS = {"CONV_2D": 3, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 4, "MEAN": 2, "MAX_POOL_2D": 2,
               "AVERAGE_POOL_2D": 2, "PAD": 2, "PADV2": 2, "MAXIMUM": 2, "MINIMUM": 2, "RESHAPE": 1,
               "TRANSPOSE": 2, "SOFTMAX": 2, "CONCATENATION": 2, "SLICE": 2, **{k: b.version for k, b in BUILTINS.items()},
               # int8 is version 2, half_pixel_centers (and align_corners for nearest) 3: one opcode serves both
               "RESIZE_NEAREST_NEIGHBOR": 3, "RESIZE_BILINEAR": 3}
TRANSPOSE_5D_VERSION = 4  # op_version.cc: TRANSPOSE of more than 4 dimensions is version 4
NHWC_AXIS = {0: 0, 1: 3, 2: 1, 3: 2}  # an NCHW axis of a 4-D tensor -> its NHWC axis


def nhwc_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (shape[0], *shape[2:], shape[1]) if len(shape) == 4 else tuple(shape)


def to_nhwc(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if x.ndim == 4 else x


def to_nchw(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)) if x.ndim == 4 else x


@dataclass
class _Builder:
    s: object  # the schema module
    tensors: list = field(default_factory=list)
    buffers: list = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    opcodes: dict[str, int] = field(default_factory=dict)
    codes: list = field(default_factory=list)
    operators: list = field(default_factory=list)

    def buffer(self, data: np.ndarray | None) -> int:
        b = self.s.BufferT()
        if data is not None:
            b.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), dtype=np.uint8)
        self.buffers.append(b)
        return len(self.buffers) - 1

    def tensor(self, name: str, shape: tuple[int, ...], ttype: int, scale: list[float] | None = None,
               zero_point: list[int] | None = None, axis: int = 0, data: np.ndarray | None = None) -> int:
        t = self.s.TensorT()
        t.name, t.shape, t.type = name, list(shape), ttype
        t.buffer = self.buffer(data) if data is not None else 0
        if scale is not None:
            q = self.s.QuantizationParametersT()
            q.scale, q.zeroPoint, q.quantizedDimension = [float(v) for v in scale], [int(v) for v in zero_point], axis
            t.quantization = q
        self.tensors.append(t)
        self.index[name] = len(self.tensors) - 1
        return self.index[name]

    def activation(self, t: QTensor, shape: tuple[int, ...] | None = None, name: str | None = None) -> int:
        name = name or t.name
        if name not in self.index:
            self.tensor(name, shape or nhwc_shape(t.shape), self.s.TensorType.INT8, [t.scale], [t.zero_point])
        return self.index[name]

    def op(self, kind: str, inputs: list[int], outputs: list[int], opt_type: int = 0, options: object = None,
           version: int = 0) -> None:
        """One operator; ``version``: at least this op version (the code's version is the highest any use needs)."""
        if kind not in self.opcodes:
            c = self.s.OperatorCodeT()
            c.builtinCode = getattr(self.s.BuiltinOperator, kind)
            c.deprecatedBuiltinCode = min(c.builtinCode, 127)
            c.version = OP_VERSIONS[kind]
            self.codes.append(c)
            self.opcodes[kind] = len(self.codes) - 1
        code = self.codes[self.opcodes[kind]]
        code.version = max(code.version, version)
        o = self.s.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = self.opcodes[kind], inputs, outputs
        o.builtinOptionsType, o.builtinOptions = opt_type, options
        self.operators.append(o)


def _schema():  # noqa: ANN202
    from ai_edge_litert import schema_py_generated as s

    return s


def _padding(b: _Builder, q: QuantizedGraph, op: QOp, kernel: tuple[int, int], dil: tuple[int, int]) -> tuple[int, int]:
    """Returns (padding enum, input tensor index), inserting a PAD op when needed."""
    s = b.s
    tin = q.tensor(op.inputs[0])
    pads, strides = tuple(op.attrs["pads"]), tuple(op.attrs["strides"])
    x = b.activation(tin)
    if not any(pads):
        return s.Padding.VALID, x
    if pads == tflite_same_pads(tin.shape[2:], kernel, strides, dil):
        return s.Padding.SAME, x
    t, left, bot, r = pads
    paddings = np.array([[0, 0], [t, bot], [left, r], [0, 0]], np.int32)
    p = b.tensor(f"{op.name}/paddings", (4, 2), s.TensorType.INT32, data=paddings)
    n, c, h, w = tin.shape
    padded = b.activation(tin, (n, h + t + bot, w + left + r, c), name=f"{op.name}/pad")
    b.op("PAD", [x, p], [padded], s.BuiltinOptions.PadOptions, s.PadOptionsT())
    return s.Padding.VALID, padded


def _weights_and_bias(b: _Builder, q: QuantizedGraph, op: QOp, w: np.ndarray, axis: int) -> tuple[int, int]:
    s = b.s
    ws = op.params["weight_scales"].astype(np.float32)
    zeros = [0] * len(ws)
    if int(op.attrs.get("weight_bits", 8)) == 4:  # LiteRT INT4: two per byte, low nibble first (ir.precision)
        wi = b.tensor(f"{op.name}/weights", w.shape, s.TensorType.INT4, list(ws), zeros, axis, pack_int4(w))
    else:
        wi = b.tensor(f"{op.name}/weights", w.shape, s.TensorType.INT8, list(ws), zeros, axis, w.astype(np.int8))
    bias_scale = (np.float32(q.tensor(op.inputs[0]).scale) * ws).astype(np.float32)
    bi = b.tensor(f"{op.name}/bias", op.params["bias"].shape, s.TensorType.INT32, list(bias_scale), zeros, 0,
                  op.params["bias"].astype(np.int32))
    return wi, bi


def _emit_conv(b: _Builder, q: QuantizedGraph, op: QOp) -> None:
    s, a = b.s, op.attrs
    depthwise = op.kind == "DEPTHWISE_CONV_2D"
    w = op.params["weights"]
    kernel, dil = (w.shape[2], w.shape[3]), tuple(a["dilations"])
    padding, x = _padding(b, q, op, kernel, dil)
    filt = w.transpose(1, 2, 3, 0) if depthwise else w.transpose(0, 2, 3, 1)
    wi, bi = _weights_and_bias(b, q, op, filt, 3 if depthwise else 0)
    out = b.activation(q.tensor(op.output))
    opts = s.DepthwiseConv2DOptionsT() if depthwise else s.Conv2DOptionsT()
    opts.padding, opts.strideH, opts.strideW = padding, a["strides"][0], a["strides"][1]
    opts.dilationHFactor, opts.dilationWFactor = dil
    opts.fusedActivationFunction = getattr(s.ActivationFunctionType, a["fused"])
    if depthwise:
        opts.depthMultiplier = w.shape[0] // q.tensor(op.inputs[0]).shape[1]
        b.op(op.kind, [x, wi, bi], [out], s.BuiltinOptions.DepthwiseConv2DOptions, opts)
    else:
        b.op(op.kind, [x, wi, bi], [out], s.BuiltinOptions.Conv2DOptions, opts)


def _emit_fc(b: _Builder, q: QuantizedGraph, op: QOp) -> None:
    s = b.s
    x = b.activation(q.tensor(op.inputs[0]))
    wi, bi = _weights_and_bias(b, q, op, op.params["weights"], 0)
    out = b.activation(q.tensor(op.output))
    opts = s.FullyConnectedOptionsT()
    opts.fusedActivationFunction = getattr(s.ActivationFunctionType, op.attrs["fused"])
    b.op(op.kind, [x, wi, bi], [out], s.BuiltinOptions.FullyConnectedOptions, opts)


def _const_nhwc(c: np.ndarray, rank: int) -> np.ndarray:
    if c.size == 1:
        return c.reshape(())
    if rank == 4 and c.ndim in (3, 4):
        return to_nhwc(c.reshape((1,) * (4 - c.ndim) + c.shape))
    if rank == 2 and c.ndim <= 2:
        return c
    raise QuantizationError(f"constant operand of shape {c.shape} cannot be laid out in NHWC")


def _options(b: _Builder, spec: TfliteBuiltin, op: QOp) -> tuple[int, object]:
    """(BuiltinOptions type, options object) of an element-wise builtin, from its ir.elementwise row."""
    if not spec.options:
        return 0, None
    opts = getattr(b.s, f"{spec.options}T")()
    for field_name, attr in spec.option_fields:
        setattr(opts, field_name, op.attrs[attr])
    return getattr(b.s.BuiltinOptions, spec.options), opts


def _emit_elementwise(b: _Builder, q: QuantizedGraph, op: QOp) -> None:
    """One element-wise builtin (its ir.elementwise row): the activation(s), or the activation and the int8
    constant operand (``params["const"]``, tensor ``attrs["const_tensor"]``), then the output."""
    s = b.s
    ins = [b.activation(q.tensor(t)) for t in op.inputs]
    if "const" in op.params:
        ct = q.tensor(op.attrs["const_tensor"])
        c = _const_nhwc(op.params["const"], len(q.tensor(op.inputs[0]).shape))
        ins.append(b.tensor(ct.name, c.shape, s.TensorType.INT8, [ct.scale], [ct.zero_point], 0, c.astype(np.int8)))
    out = b.activation(q.tensor(op.output))
    spec = BUILTINS[op.kind]
    b.op(op.kind, ins, [out], *_options(b, spec, op))


def _emit_mean(b: _Builder, q: QuantizedGraph, op: QOp) -> None:
    s = b.s
    x, out_t = b.activation(q.tensor(op.inputs[0])), q.tensor(op.output)
    axes = b.tensor(f"{op.name}/axes", (2,), s.TensorType.INT32, data=np.array([1, 2], np.int32))
    out = b.activation(out_t)
    opts = s.ReducerOptionsT()
    opts.keepDims = len(out_t.shape) == 4
    b.op("MEAN", [x, axes], [out], s.BuiltinOptions.ReducerOptions, opts)


def _explicit_pad(b: _Builder, q: QuantizedGraph, op: QOp, value: int | None) -> int:
    """PAD (fills with the zero point) or, with ``value``, PADV2 with that int8 constant."""
    s = b.s
    tin = q.tensor(op.inputs[0])
    t, left, bot, r = op.attrs.get("pre_pad", op.attrs["pads"])
    paddings = np.array([[0, 0], [t, bot], [left, r], [0, 0]], np.int32)
    ins = [b.activation(tin), b.tensor(f"{op.name}/paddings", (4, 2), s.TensorType.INT32, data=paddings)]
    n, c, h, w = tin.shape
    padded = b.activation(tin, (n, h + t + bot, w + left + r, c), name=f"{op.name}/pad")
    if value is None:
        b.op("PAD", ins, [padded], s.BuiltinOptions.PadOptions, s.PadOptionsT())
    else:
        ins.append(b.tensor(f"{op.name}/pad_value", (1,), s.TensorType.INT8, [tin.scale], [tin.zero_point], 0,
                            np.array([value], np.int8)))
        b.op("PADV2", ins, [padded], s.BuiltinOptions.PadV2Options, s.PadV2OptionsT())
    return padded


def _emit_pool(b: _Builder, q: QuantizedGraph, op: QOp) -> None:
    s, a = b.s, op.attrs
    tin = q.tensor(op.inputs[0])
    out = b.activation(q.tensor(op.output))
    opts = s.Pool2DOptionsT()
    x = _explicit_pad(b, q, op, -128 if op.kind == "MAX_POOL_2D" else None) if a.get("explicit_pad") else b.activation(tin)
    same = a["padding"] == "SAME" if "padding" in a else not a.get("explicit_pad") and any(a["pads"])
    opts.padding = s.Padding.SAME if same else s.Padding.VALID
    opts.strideH, opts.strideW = a["strides"]
    opts.filterHeight, opts.filterWidth = a["kernel"]
    b.op(op.kind, [x], [out], s.BuiltinOptions.Pool2DOptions, opts)


def _emit_clip(b: _Builder, q: QuantizedGraph, op: QOp) -> None:
    s = b.s
    tin = q.tensor(op.inputs[0])
    x, out = b.activation(tin), b.activation(q.tensor(op.output))

    def const(tag: str, v: int) -> int:
        return b.tensor(f"{op.name}/{tag}", (1,), s.TensorType.INT8, [tin.scale], [tin.zero_point], 0, np.array([v], np.int8))

    lo, hi = op.attrs["lo"], op.attrs["hi"]
    mid = b.activation(tin, name=f"{op.name}/max") if hi < 127 else out
    b.op("MAXIMUM", [x, const("min", lo)], [mid])
    if hi < 127:
        b.op("MINIMUM", [mid, const("max", hi)], [out])


def _emit_reshape(b: _Builder, q: QuantizedGraph, op: QOp) -> None:
    """The IR reshapes in NCHW element order: TRANSPOSE to NCHW (4-D input), RESHAPE, TRANSPOSE back to
    NHWC (4-D output)."""
    s = b.s
    tin, tout = q.tensor(op.inputs[0]), q.tensor(op.output)
    x, out = b.activation(tin), b.activation(tout)

    def transpose(src: int, perm: list[int], shape: tuple[int, ...], name: str, dst: int | None = None) -> int:
        p = b.tensor(f"{name}/perm", (4,), s.TensorType.INT32, data=np.array(perm, np.int32))
        dst = b.activation(tin, shape, name=name) if dst is None else dst
        b.op("TRANSPOSE", [src, p], [dst], s.BuiltinOptions.TransposeOptions, s.TransposeOptionsT())
        return dst

    if len(tin.shape) == 4:
        x = transpose(x, [0, 3, 1, 2], tuple(tin.shape), f"{op.name}/nchw_in")
    target = tuple(tout.shape)
    shape_t = b.tensor(f"{op.name}/shape", (len(target),), s.TensorType.INT32, data=np.array(target, np.int32))
    r = b.activation(tin, target, name=f"{op.name}/nchw_out") if len(target) == 4 else out
    b.op("RESHAPE", [x, shape_t], [r])
    if len(target) == 4:
        transpose(r, [0, 2, 3, 1], nhwc_shape(target), f"{op.name}/nhwc", out)


def _emit_softmax(b: _Builder, q: QuantizedGraph, op: QOp) -> None:
    """SOFTMAX over the last NHWC axis (the quantize pass only accepts that axis), beta 1."""
    s = b.s
    x, out = b.activation(q.tensor(op.inputs[0])), b.activation(q.tensor(op.output))
    opts = s.SoftmaxOptionsT()
    opts.beta = float(op.attrs["beta"])
    b.op("SOFTMAX", [x], [out], s.BuiltinOptions.SoftmaxOptions, opts)


def _emit_hard_sigmoid(b: _Builder, q: QuantizedGraph, op: QOp) -> None:
    """HardSigmoid lowered as MUL by the int8 constant alpha, then ADD of the int8 constant beta (the
    output's [0, <=1] range makes the ADD's saturation the clamp; see quant/quantize.py)."""
    s, a = b.s, op.attrs
    x = b.activation(q.tensor(op.inputs[0]))
    mid = b.activation(q.tensor(a["intermediate"]))
    out = b.activation(q.tensor(op.output))

    def const(tag: str) -> int:
        t = q.tensor(a[f"{tag}_tensor"])
        return b.tensor(t.name, (1,), s.TensorType.INT8, [t.scale], [t.zero_point], 0,
                        np.asarray(op.params[tag], np.int8).reshape(1))

    b.op("MUL", [x, const("alpha")], [mid], s.BuiltinOptions.MulOptions, s.MulOptionsT())
    b.op("ADD", [mid, const("beta")], [out], s.BuiltinOptions.AddOptions, s.AddOptionsT())


def _emit_resize(b: _Builder, q: QuantizedGraph, op: QOp) -> None:
    """RESIZE_* with the output size as an int32 constant [OH, OW] and the coordinate flags."""
    s, a = b.s, op.attrs
    x, out = b.activation(q.tensor(op.inputs[0])), b.activation(q.tensor(op.output))
    size = b.tensor(f"{op.name}/size", (2,), s.TensorType.INT32, data=np.array(a["size"], np.int32))
    if op.kind == "RESIZE_BILINEAR":
        opts, otype = s.ResizeBilinearOptionsT(), s.BuiltinOptions.ResizeBilinearOptions
    else:
        opts, otype = s.ResizeNearestNeighborOptionsT(), s.BuiltinOptions.ResizeNearestNeighborOptions
    opts.alignCorners, opts.halfPixelCenters = bool(a["align_corners"]), bool(a["half_pixel_centers"])
    b.op(op.kind, [x, size], [out], otype, opts)


def _nhwc_axis(axis: int, rank: int) -> int:
    return NHWC_AXIS[axis] if rank == 4 else axis


def _emit_concat(b: _Builder, q: QuantizedGraph, op: QOp) -> None:
    """CONCATENATION: every input already has the output's scale and zero point (a QUANTIZE in front otherwise)."""
    s = b.s
    ins = [b.activation(q.tensor(t)) for t in op.inputs]
    out_t = q.tensor(op.output)
    opts = s.ConcatenationOptionsT()
    opts.axis = _nhwc_axis(int(op.attrs["axis"]), len(out_t.shape))
    b.op("CONCATENATION", ins, [b.activation(out_t)], s.BuiltinOptions.ConcatenationOptions, opts)


def _emit_slice(b: _Builder, q: QuantizedGraph, op: QOp) -> None:
    """SLICE with int32 begin / size in NHWC."""
    s, a = b.s, op.attrs
    tin, tout = q.tensor(op.inputs[0]), q.tensor(op.output)
    rank = len(tin.shape)
    begin = np.zeros(rank, np.int32)
    begin[_nhwc_axis(int(a["axis"]), rank)] = int(a["start"])
    size = np.array(nhwc_shape(tout.shape), np.int32)
    ins = [b.activation(tin), b.tensor(f"{op.name}/begin", (rank,), s.TensorType.INT32, data=begin),
           b.tensor(f"{op.name}/size", (rank,), s.TensorType.INT32, data=size)]
    b.op("SLICE", ins, [b.activation(tout)], s.BuiltinOptions.SliceOptions, s.SliceOptionsT())


def _emit_pad(b: _Builder, q: QuantizedGraph, op: QOp) -> None:
    """PAD (value 0: fills with the zero point) or PADV2 with the int8 fill, written straight to the output."""
    s = b.s
    tin, tout = q.tensor(op.inputs[0]), q.tensor(op.output)
    t, left, bot, r = op.attrs["pads"]
    ins = [b.activation(tin), b.tensor(f"{op.name}/paddings", (4, 2), s.TensorType.INT32,
                                       data=np.array([[0, 0], [t, bot], [left, r], [0, 0]], np.int32))]
    out = b.activation(tout)
    if float(op.attrs["value"]) == 0.0:
        b.op("PAD", ins, [out], s.BuiltinOptions.PadOptions, s.PadOptionsT())
        return
    ins.append(b.tensor(f"{op.name}/pad_value", (1,), s.TensorType.INT8, [tin.scale], [tin.zero_point], 0,
                        np.array([op.attrs["fill"]], np.int8)))
    b.op("PADV2", ins, [out], s.BuiltinOptions.PadV2Options, s.PadV2OptionsT())


def _emit_channel_shuffle(b: _Builder, q: QuantizedGraph, op: QOp) -> None:
    """ShuffleNet's channel shuffle in NHWC, as the converter writes the exported graph: RESHAPE to
    (1, H, W, g, C/g), TRANSPOSE (0, 1, 2, 4, 3), RESHAPE back to (1, H, W, C)."""
    s = b.s
    tin, tout = q.tensor(op.inputs[0]), q.tensor(op.output)
    n, c, h, w = tin.shape
    g = int(op.attrs["groups"])

    def shape(tag: str, dims: tuple[int, ...]) -> int:
        return b.tensor(f"{op.name}/{tag}", (len(dims),), s.TensorType.INT32, data=np.array(dims, np.int32))

    grouped = b.activation(tin, (n, h, w, g, c // g), name=f"{op.name}/grouped")
    b.op("RESHAPE", [b.activation(tin), shape("grouped_shape", (n, h, w, g, c // g))], [grouped])
    shuffled = b.activation(tin, (n, h, w, c // g, g), name=f"{op.name}/shuffled")
    b.op("TRANSPOSE", [grouped, shape("perm", (0, 1, 2, 4, 3))], [shuffled], s.BuiltinOptions.TransposeOptions,
         s.TransposeOptionsT(), TRANSPOSE_5D_VERSION)
    b.op("RESHAPE", [shuffled, shape("shape", nhwc_shape(tout.shape))], [b.activation(tout)])


EMITTERS = {"CONV_2D": _emit_conv, "DEPTHWISE_CONV_2D": _emit_conv, "FULLY_CONNECTED": _emit_fc,
            **{kind: _emit_elementwise for kind in BUILTINS},
            "MEAN": _emit_mean, "MAX_POOL_2D": _emit_pool, "AVERAGE_POOL_2D": _emit_pool,
            "CLIP": _emit_clip, "RESHAPE": _emit_reshape, "SOFTMAX": _emit_softmax,
            "HARD_SIGMOID": _emit_hard_sigmoid, "RESIZE_NEAREST_NEIGHBOR": _emit_resize,
            "RESIZE_BILINEAR": _emit_resize, "CONCATENATION": _emit_concat, "SLICE": _emit_slice, "PAD": _emit_pad,
            "CHANNEL_SHUFFLE": _emit_channel_shuffle}


def tflite_bytes(q: QuantizedGraph) -> bytes:
    import flatbuffers

    s = _schema()
    b = _Builder(s)
    b.buffer(None)  # buffer 0: the empty sentinel every non-constant tensor points at
    inp = b.activation(q.tensor(q.input))
    for op in q.ops:
        EMITTERS[op.kind](b, q, op)
    sub = s.SubGraphT()
    sub.tensors, sub.inputs, sub.outputs, sub.operators = b.tensors, [inp], [b.index[q.output]], b.operators
    sub.name = "main"
    model = s.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, b.codes, [sub], b.buffers
    model.description = f"sramflow int8 {q.name} ({q.method}; {q.calibration})"
    fb = flatbuffers.Builder(1 << 20)
    fb.Finish(model.Pack(fb), file_identifier=b"TFL3")
    return bytes(fb.Output())


def export_tflite(q: QuantizedGraph, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tflite_bytes(q))
    return path
