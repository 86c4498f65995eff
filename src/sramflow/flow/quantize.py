"""The `quantize` and `verify` jobs end to end: calibrate, quantize, export the .tflite, check it against
LiteRT (the CLI only parses flags and calls these)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sramflow.data.calibration import CalibrationSet, load_calibration, random_calibration
from sramflow.errors import DataError, QuantizationError
from sramflow.flow.calibration import at_weight_bits, calibrate
from sramflow.ir.precision import canonical_weight_bits
from sramflow.quant.weight_bits import spec_mismatches, weight_bits_summary
from sramflow.frontend.source import ModelSource, load_graph
from sramflow.ir.qgraph import QuantizedGraph, load_qgraph, save_qgraph
from sramflow.jsonio import write_text_atomic
from sramflow.quant.report import build_report
from sramflow.reference.run import quantize_input
from sramflow.tflite.export import export_tflite
from sramflow.tflite.verify import verify

WEIGHT_SCHEME = ("per-output-channel symmetric: INT8 in [-127, 127], INT4 in [-7, 7] (held as int8 by the integer "
                 "reference, packed two per byte, low nibble first, in the SRAM and as TensorType.INT4 in the .tflite); "
                 "activations INT8, biases INT32")
VERIFY_INPUTS = "verify_inputs.npy"  # a few quantized calibration inputs kept for `sramflow verify`


@dataclass(frozen=True)
class QuantizeJob:
    source: ModelSource
    out_dir: str
    method: str = "percentile"
    calib_data: str | None = None
    calib_images: int = 256
    calib_random: int | None = None
    export_tflite: str | None = None
    seed: int = 0
    split_file: str | None = None  # HAM10000 split (default weights/ham10000_split.json when present)
    weight_bits: int | str = 8  # --weight-bits spec (ir.precision): INT4 weights for the groups it names


@dataclass(frozen=True)
class QuantizeResult:
    qgraph: QuantizedGraph
    report: dict
    tflite_path: Path


def _calibration(job: QuantizeJob, resolution: int) -> CalibrationSet:
    if job.calib_random is not None and job.calib_data:
        raise DataError("give either --calib-data or --calib-random, not both")
    if job.calib_random is not None:
        return random_calibration(job.calib_random, resolution, job.seed)
    if not job.calib_data:
        raise DataError("calibration needs --calib-data FOLDER (real images) or --calib-random N (architecture-only)")
    return load_calibration(job.calib_data, job.calib_images, resolution, job.seed, job.split_file)


def run_quantize(job: QuantizeJob) -> QuantizeResult:
    loaded = load_graph(job.source)
    calib = _calibration(job, loaded.resolution)
    q = at_weight_bits(calibrate(loaded.graph, calib.images, job.method, calib.source, job.seed), loaded.graph,
                       job.weight_bits).qgraph
    out = Path(job.out_dir)
    save_qgraph(q, out)
    tfl = export_tflite(q, job.export_tflite or out / "model_int8.tflite")
    np.save(out / VERIFY_INPUTS, quantize_input(q, calib.images[:16]))
    extra = {"source": loaded.source, "resolution": loaded.resolution, "num_classes": loaded.num_classes,
             "calibration_images": int(calib.images.shape[0]), "calibration_random": job.calib_random is not None,
             "skipped_images": list(calib.skipped), "tflite_path": str(tfl),
             "quantized_model": [str(out / "quantized.npz"), str(out / "quantized.json")],
             "weight_bits": canonical_weight_bits(job.weight_bits), "weighted_ops_by_bits": weight_bits_summary(q),
             "weight_quantization": WEIGHT_SCHEME}
    report = build_report(loaded.graph, q, calib.images, extra)
    write_text_atomic(out / "quantization_report.json", json.dumps(report, indent=1))
    return QuantizeResult(q, report, tfl)


def run_verify(quantized_dir: str, images: int, out_dir: str, tflite: str | None = None,
               weight_bits: int | str | None = None) -> dict:
    """``weight_bits``: the spec the model was quantized with, checked against the stored model (None: any)."""
    q = load_qgraph(quantized_dir)
    held = weight_bits_summary(q)
    bad = [] if weight_bits is None else spec_mismatches(q, weight_bits)
    if bad:
        raise QuantizationError(f"{quantized_dir}: {len(bad)} weighted ops are not at the bits --weight-bits "
                                f"{canonical_weight_bits(weight_bits)} gives them (first {bad[0]}): re-run 'sramflow "
                                "quantize' with that --weight-bits, or drop the flag")
    inputs_path = Path(quantized_dir) / VERIFY_INPUTS
    if not inputs_path.exists():
        raise QuantizationError(f"{inputs_path}: no stored inputs; re-run 'sramflow quantize'")
    x = np.load(inputs_path)
    if images < 1 or images > x.shape[0]:
        raise QuantizationError(f"--images must be between 1 and {x.shape[0]} (inputs stored by quantize)")
    model = Path(tflite) if tflite else Path(quantized_dir) / "model_int8.tflite"
    if not model.exists():
        model = export_tflite(q, Path(out_dir) / "model_int8.tflite")
    result = verify(q, model, x[:images])
    report = {"quantized": str(quantized_dir), "tflite": str(model), "weighted_ops_by_bits": held,
              "weight_quantization": WEIGHT_SCHEME, **result.to_dict()}
    write_text_atomic(Path(out_dir) / "verify_report.json", json.dumps(report, indent=1))
    return report
