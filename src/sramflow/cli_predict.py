"""`sramflow predict`: the float and the INT8 model's class and probabilities for a few images or tensors.

Images get the evaluation preprocessing (``sramflow.data.preprocess``); ``--tensor`` takes already normalized
NCHW float32 arrays. Float logits come from the float reference of the same IR the INT8 model is quantized
from (BatchNorm folded), INT8 logits from the integer reference, dequantized. INT8 is calibrated as
``sramflow quantize`` calibrates (``--calib-data`` / ``--calib-random``), or, without those, with the ranges
``sramflow run --save-calibration`` stored beside the checkpoint when they cover this graph.
Registered by cli.py; no heavy imports at module level (``sramflow --help`` stays torch-free).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sramflow.errors import DataError


@dataclass(frozen=True)
class PredictInputs:
    names: tuple[str, ...]
    x: np.ndarray  # float32 [N, 3, R, R], normalized


@dataclass(frozen=True)
class Prediction:
    input: str
    float_logits: tuple[float, ...]
    int8_logits: tuple[float, ...]
    float_class: str
    int8_class: str

    def to_json(self, class_names: tuple[str, ...]) -> dict[str, Any]:
        return {"input": self.input, "float_logits": list(self.float_logits), "int8_logits": list(self.int8_logits),
                "float_class": self.float_class, "int8_class": self.int8_class,
                "float_probabilities": dict(zip(class_names, _rounded(softmax(np.array(self.float_logits))))),
                "int8_probabilities": dict(zip(class_names, _rounded(softmax(np.array(self.int8_logits)))))}


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _rounded(p: np.ndarray) -> list[float]:
    return [round(float(v), 6) for v in p]


def read_images(paths: list[str], resolution: int) -> PredictInputs:
    from sramflow.data.preprocess import load_image

    arrays = []
    for p in paths:
        if not Path(p).is_file():
            raise DataError(f"{p}: no such image file")
        arrays.append(load_image(p, resolution))  # DataError naming the file when it does not decode
    return PredictInputs(tuple(paths), np.stack(arrays).astype(np.float32))


def read_tensor(path: str) -> np.ndarray:
    """A .npy of normalized NCHW float32 inputs ([3, R, R] is one input); shape checked against the model later."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such tensor file")
    try:
        x = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{p}: not a readable .npy array ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    if not np.issubdtype(x.dtype, np.floating):
        raise DataError(f"{p}: holds {x.dtype} values; --tensor takes normalized float32 inputs (NCHW)")
    x = x[None] if x.ndim == 3 else x
    if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] != x.shape[3] or x.shape[0] < 1:
        raise DataError(f"{p}: shape {tuple(x.shape)} is not [N, 3, R, R] (normalized NCHW, any batch N)")
    if not np.isfinite(x).all():
        raise DataError(f"{p}: holds NaN or infinite values")
    return x.astype(np.float32)


def class_names_for(num_classes: int, checkpoint: str | None) -> tuple[str, ...]:
    """Names stored in a safetensors header, HAM10000's for a 7-class model, else class0..classN-1."""
    from sramflow.data.ham10000 import LABELS
    from sramflow.eval.evaluate import checkpoint_header

    stored = checkpoint_header(checkpoint).get("classes")
    if stored and len(stored.split(",")) == num_classes:
        return tuple(stored.split(","))
    if num_classes == len(LABELS):
        return LABELS
    return tuple(f"class{i}" for i in range(num_classes))


def _other_resolutions(checkpoint: str | None, method: str) -> str:
    if not checkpoint:
        return ""
    p = Path(checkpoint)
    found = sorted(p.parent.glob(f"{p.name.split('.')[0]}.calibration-*px-{method}.json"))
    sizes = [f.name.rsplit(".calibration-", 1)[1].split("px-")[0] for f in found]
    return f" (stored for {', '.join(s + ' px' for s in sizes)}: pass --resolution to use them)" if sizes else ""


def calibrated(a: argparse.Namespace, loaded: Any) -> Any:
    """The QuantizedGraph, calibrated as `sramflow quantize` would (``flow.calibration``), else from the
    ranges stored beside the checkpoint."""
    from sramflow.data.calibration import load_calibration, random_calibration
    from sramflow.flow.calibration import calibrate, calibration_file, stored_ranges

    if a.calib_random is not None and a.calib_data:
        raise DataError("give either --calib-data or --calib-random, not both")
    if a.calib_random is not None:
        cal = random_calibration(a.calib_random, loaded.resolution, a.seed)
    elif a.calib_data:
        cal = load_calibration(a.calib_data, a.calib_images, loaded.resolution, a.seed, a.split_file)
    else:
        stored = stored_ranges(calibration_file(a.checkpoint, loaded.resolution, a.method), loaded.graph)
        if stored is None:
            raise DataError("the INT8 model needs calibration: --calib-data FOLDER (real images, as 'sramflow "
                            f"quantize') or --calib-random N; no stored {a.method} ranges beside the checkpoint "
                            f"match this model at {loaded.resolution} px{_other_resolutions(a.checkpoint, a.method)}")
        from sramflow.quant.quantize import quantize_with_ranges

        path = calibration_file(a.checkpoint, loaded.resolution, a.method)
        return quantize_with_ranges(loaded.graph, stored[0], a.method,
                                    f"ranges stored in {path.name if path else '?'} ({stored[1]})")
    return calibrate(loaded.graph, cal.images, a.method, cal.source, a.seed).qgraph


def predict(a: argparse.Namespace) -> tuple[list[Prediction], dict[str, Any]]:
    from sramflow.cli_args import model_source
    from sramflow.eval.evaluate import checkpoint_header
    from sramflow.frontend.source import load_graph
    from sramflow.reference.float_exec import run_float
    from sramflow.reference.run import predict_int8

    if bool(a.image) == bool(a.tensor):
        raise DataError("give --image FILE [FILE ...] or --tensor X.npy (one of them)")
    tensor = read_tensor(a.tensor) if a.tensor else None
    src = model_source(a)
    if src.resolution is None:  # the tensor's size, else the checkpoint's own, else the variant's default
        header_res = checkpoint_header(src.checkpoint).get("resolution")
        res = tensor.shape[2] if tensor is not None else int(header_res) if header_res else None
        src = type(src)(**{**src.__dict__, "resolution": res})
    loaded = load_graph(src)
    if tensor is not None:
        expected = tuple(loaded.graph.shape(loaded.graph.input)[1:])
        if tuple(tensor.shape[1:]) != expected:
            raise DataError(f"{a.tensor}: inputs are {tuple(tensor.shape[1:])} but the model takes {expected} "
                            f"(N x {' x '.join(map(str, expected))})")
        inputs = PredictInputs(tuple(f"{a.tensor}[{i}]" for i in range(len(tensor))), tensor)
    else:
        inputs = read_images(a.image, loaded.resolution)
    q = calibrated(a, loaded)
    f_logits = np.asarray(run_float(loaded.graph, inputs.x)[loaded.graph.output], np.float32).reshape(len(inputs.x), -1)
    q_logits = np.asarray(predict_int8(q, inputs.x), np.float32).reshape(len(inputs.x), -1)
    names = class_names_for(f_logits.shape[1], src.checkpoint)
    preds = [Prediction(n, tuple(float(v) for v in f), tuple(float(v) for v in g), names[int(f.argmax())],
                        names[int(g.argmax())])
             for n, f, g in zip(inputs.names, f_logits, q_logits)]
    meta = {"model": loaded.model, "source": loaded.source, "checkpoint_layout": loaded.checkpoint_layout,
            "resolution": loaded.resolution, "class_names": list(names), "int8_calibration": q.calibration,
            "int8_method": q.method,
            "float_logits_from": "float reference of the imported graph (BatchNorm folded)",
            "int8_logits_from": "integer reference (TFLite int8 kernels), dequantized output"}
    return preds, meta


def _print(preds: list[Prediction], names: tuple[str, ...]) -> None:
    for p in preds:
        pf, pq = softmax(np.array(p.float_logits)), softmax(np.array(p.int8_logits))
        print(f"{p.input}: float {p.float_class} ({pf.max():.3f}), int8 {p.int8_class} ({pq.max():.3f})"
              + ("" if p.float_class == p.int8_class else "  <- differ"))
        print("  " + "  ".join(f"{n} {f:.3f}/{q:.3f}" for n, f, q in zip(names, pf, pq)) + "   (float/int8)")


def _cmd_predict(a: argparse.Namespace) -> int:
    from sramflow.jsonio import write_json_atomic

    preds, meta = predict(a)
    names = tuple(meta["class_names"])
    print(f"{meta['model']} ({meta['source']}), {meta['resolution']}x{meta['resolution']}; "
          f"INT8 calibration: {meta['int8_calibration']}")
    _print(preds, names)
    if a.out:
        path = write_json_atomic(Path(a.out) / "predictions.json",
                                 {**meta, "predictions": [p.to_json(names) for p in preds]})
        print(f"wrote {path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from sramflow.cli_args import add_model_args

    p = sub.add_parser("predict", help="class and probabilities of the float and the INT8 model for images or tensors")
    add_model_args(p)
    g = p.add_argument_group("inputs")
    g.add_argument("--image", nargs="+", default=None, metavar="FILE",
                   help="images (the evaluation preprocessing: RGB, bilinear resize, ImageNet normalization)")
    g.add_argument("--tensor", default=None, metavar="X.npy", help="normalized NCHW float32 inputs, any batch")
    c = p.add_argument_group("INT8 calibration (as 'sramflow quantize'; default: ranges stored beside the checkpoint)")
    c.add_argument("--calib-data", default=None, help="folder of calibration images (HAM10000 or any image folder)")
    c.add_argument("--split-file", default=None, help="HAM10000 split file: calibrate on its training images only")
    c.add_argument("--calib-images", type=int, default=256, help="number of calibration images (default 256)")
    c.add_argument("--calib-random", type=int, default=None, metavar="N", help="calibrate on N random inputs instead")
    c.add_argument("--method", choices=("minmax", "percentile", "mse"), default="percentile")
    p.add_argument("--out", default=None, help="folder for predictions.json")
    p.set_defaults(func=_cmd_predict)
