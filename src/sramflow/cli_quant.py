"""`sramflow quantize` and `sramflow verify` (registered by cli.py; no heavy imports at module level)."""

from __future__ import annotations

import argparse


def _cmd_quantize(a: argparse.Namespace) -> int:
    from sramflow.cli_args import model_source
    from sramflow.flow.quantize import QuantizeJob, run_quantize

    job = QuantizeJob(model_source(a), a.out, a.method, a.calib_data, a.calib_images, a.calib_random,
                      a.export_tflite, a.seed, a.split_file, a.weight_bits)
    r = run_quantize(job)
    e2e, tot = r.report["end_to_end"], r.report["totals"]
    print(f"quantized {r.qgraph.name}: {len(r.qgraph.ops)} int8 ops, {a.method} calibration on {r.qgraph.calibration}")
    if r.report["weight_bits"] != 8:
        by = r.report["weighted_ops_by_bits"]
        print(f"weights at --weight-bits {r.report['weight_bits']}: {by.get('4', 0)} layers INT4 (symmetric [-7, 7], "
              f"packed two per byte; TensorType.INT4 in the .tflite), {by.get('8', 0)} INT8")
    if r.report["skipped_images"]:
        print(f"skipped {len(r.report['skipped_images'])} images that do not decode: " + "; ".join(r.report["skipped_images"][:3]))
    packed = "int8" if tot["packed_total_bytes"] == tot["int8_total_bytes"] else "packed int8/int4"
    print(f"weights {tot['float32_weight_bytes']:,} B float32 -> {tot['packed_total_bytes']:,} B {packed} (+bias), "
          f"{tot['compression_ratio']}:1")
    sq = e2e["logit_sqnr_db"]
    print(f"float vs int8 on {e2e['images']} calibration inputs: top-1 agreement {e2e['top1_agreement']:.1%}, "
          f"logit SQNR {'exact' if sq is None else f'{sq:.1f} dB'}")
    print(f"wrote {a.out.rstrip('/')}/quantization_report.json, quantized.npz, quantized.json, {r.tflite_path}")
    return 0


def _cmd_verify(a: argparse.Namespace) -> int:
    from sramflow.flow.quantize import run_verify

    r = run_verify(a.quantized, a.images, a.out, a.tflite, a.weight_bits)
    print(f"{r['tensors_compared']} tensors compared over {r['images']} inputs, {r['tensors_mismatched']} mismatched, "
          f"max |diff| {r['max_abs_diff']} (oracle: {r['oracle']})")
    if r["first_mismatch"]:
        print(f"first mismatch: {r['first_mismatch']}")
    if "4" in r["weighted_ops_by_bits"]:
        print(f"INT4 weights in {r['weighted_ops_by_bits']['4']} layers: LiteRT's reference kernels run the INT4 "
              "tensors, so they are the oracle for them too")
    print(f"wrote {a.out.rstrip('/')}/verify_report.json")
    return 0 if r["tensors_mismatched"] == 0 else 1


def register(sub: argparse._SubParsersAction) -> None:
    from sramflow.cli_args import add_model_args, add_weight_bits_arg, weight_bits_arg
    from sramflow.cli_checks import existing_dir, existing_file, out_dir, out_file, positive_int

    p = sub.add_parser("quantize", help="calibrate and quantize to TFLite int8; write the report and a .tflite")
    add_model_args(p)
    p.add_argument("--calib-data", default=None, type=existing_dir, help="folder of calibration images (HAM10000 or any image folder)")
    p.add_argument("--split-file", default=None, type=existing_file,
                   help="HAM10000 split file: with a HAM10000 --calib-data, calibrate on its training images only "
                        "(default weights/ham10000_split.json when it exists)")
    p.add_argument("--calib-images", type=positive_int, default=256, help="number of calibration images (default 256)")
    p.add_argument("--calib-random", type=positive_int, default=None, metavar="N",
                   help="calibrate on N random inputs instead (architecture-only studies; reported as such)")
    p.add_argument("--method", choices=("minmax", "percentile", "mse"), default="percentile")
    p.add_argument("--export-tflite", default=None, type=out_file, metavar="PATH", help="where to write the .tflite (default OUT/model_int8.tflite)")
    p.add_argument("--out", required=True, type=out_dir, help="output folder")
    add_weight_bits_arg(p)
    p.set_defaults(func=_cmd_quantize)

    v = sub.add_parser("verify", help="integer reference vs LiteRT's reference kernels, every tensor")
    v.add_argument("--quantized", required=True, type=existing_dir, help="folder written by 'sramflow quantize'")
    v.add_argument("--images", type=positive_int, default=4, help="inputs to compare (from those stored by quantize)")
    v.add_argument("--tflite", default=None, type=existing_file, help="the .tflite to check (default QUANTIZED/model_int8.tflite)")
    v.add_argument("--out", required=True, type=out_dir, help="folder for verify_report.json")
    v.add_argument("--weight-bits", default=None, type=weight_bits_arg, metavar="SPEC",
                   help="the --weight-bits the model was quantized with: checked against the stored model (default: "
                        "whatever it holds)")
    v.set_defaults(func=_cmd_verify)
