"""Accuracy evaluation speed (issue 4: 1,500 images, float and INT8, "minutes, not hours"), real HAM10000 images.

    .venv/bin/python benchmarks/bench_evaluate.py [--images 300] [--resolution 224] [--data ../shared/data/ham10000]

Runs ``sramflow.eval.evaluate`` (float model + INT8 integer reference, calibration on 200 training images
included) on the first ``--images`` images of the test split with the shipped checkpoint, prints images/s and
the projected time for 1,500 images, and times LiteRT's reference kernels (BUILTIN_REF, the bit-exact oracle
of ANCHORS.md) on the same INT8 model in the same run for the ratio. Skips with a message when the data is absent.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

CHECKPOINT = "weights/efficientnet_b0_ham10000.safetensors"


def _litert_ref_ms(q, x, repeats: int = 2) -> float:  # noqa: ANN001 - QuantizedGraph, float NCHW batch
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from bench_reference import best_ms  # benchmarks/ is on sys.path when this file runs as a script

    from sramflow.quant.api import quantize_input
    from sramflow.tflite.export import tflite_bytes, to_nhwc

    ref = Interpreter(model_content=tflite_bytes(q), experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                      num_threads=1)
    ref.allocate_tensors()
    ref.set_tensor(ref.get_input_details()[0]["index"], to_nhwc(quantize_input(q, x[:1])))
    return best_ms(ref.invoke, repeats)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data/ham10000")
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--resolution", type=int, default=None, help="default: the checkpoint's own (its header)")
    a = ap.parse_args()
    if not (Path(a.data) / "HAM10000_metadata.csv").is_file():
        print(f"skipped: no HAM10000 metadata in {a.data}")
        return

    import numpy as np

    from sramflow.data.dataset import Skipped
    from sramflow.eval.evaluate import EvalConfig, calibrate_int8, checkpoint_header, evaluate
    from sramflow.frontend.source import ModelSource, load_graph
    from sramflow.quant.api import quantize_graph

    resolution = a.resolution or int(checkpoint_header(CHECKPOINT)["resolution"])
    src = ModelSource(checkpoint=CHECKPOINT, resolution=resolution)
    cfg = EvalConfig(data=a.data, split="test", limit=a.images, progress=False)
    t0 = time.perf_counter()
    g = load_graph(src).graph
    qgraph = calibrate_int8(g, cfg, resolution, Skipped())
    t_cal = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    res = evaluate(src, cfg, qgraph)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = res.n_images
    per_img = wall / n
    print(f"evaluate float + INT8 (integer reference), {n} test images at {resolution} px: {wall:.1f} s wall "
          f"({cpu:.1f} CPU-s), {n / wall:.2f} img/s; calibration on {cfg.calib_images} training images {t_cal:.1f} s "
          f"-> 1,500 images ~{(t_cal + 1500 * per_img) / 60:.1f} min")
    print(f"  float acc {res.float_metrics.accuracy:.3f}, INT8 acc {res.int8_metrics.accuracy:.3f}, agreement "
          f"{res.agreement:.3f} (the first images of the split only: not the model card's figures)")

    x = np.random.default_rng(0).standard_normal((2, 3, resolution, resolution)).astype(np.float32)
    ref_ms = _litert_ref_ms(quantize_graph(g, x, "minmax", calibration="2 random inputs (benchmark only)"), x)
    print(f"  anchor, same run: LiteRT BUILTIN_REF {ref_ms:.0f} ms/image INT8 alone -> 1,500 images "
          f"~{1500 * ref_ms / 60000:.1f} min; ours (float + INT8 per image) is x{per_img * 1000 / ref_ms:.2f} its time")


if __name__ == "__main__":
    main()
