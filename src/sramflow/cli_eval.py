"""``sramflow evaluate``: float and INT8 accuracy on HAM10000 or an image folder (torch imported lazily)."""

from __future__ import annotations

import argparse


def _cmd_evaluate(a: argparse.Namespace) -> int:
    from pathlib import Path

    from sramflow.cli_args import model_source
    from sramflow.eval.evaluate import EvalConfig, evaluate, per_class_table, predictions_csv
    from sramflow.jsonio import write_json_atomic, write_text_atomic

    cfg = EvalConfig(data=a.data, split=a.split, split_file=a.split_file, calib_data=a.calib_data,
                     calib_images=a.calib_images, calib_method=a.calib_method, batch_size=a.batch_size,
                     int8=not a.float_only, seed=a.seed, progress=not a.no_progress,
                     weight_bits=a.weight_bits, tta=a.tta)
    result = evaluate(model_source(a), cfg)
    print(per_class_table(result))
    mixed = result.report.get("mixed")
    if mixed:
        print(f"mixed ({mixed['weight_bits']}, {mixed['method']}): accuracy {mixed['accuracy']:.4f}, "
              f"balanced accuracy {mixed['balanced_accuracy']:.4f}")
    tta = result.report.get("tta")
    if tta:
        print(f"\ntest-time augmentation {tta['mode']} ({tta['passes']} passes: {', '.join(tta['views'])}; "
              f"costs {tta['passes']} x one inference's latency and energy), beside the single-pass figures above:")
        for k in ("float_tta", "int8_tta", "mixed_tta"):
            if k in tta:
                print(f"  {k:<10} accuracy {tta[k]['accuracy']:.4f}  balanced accuracy {tta[k]['balanced_accuracy']:.4f}")
    if a.out:
        path = Path(a.out) / "accuracy_report.json"
        write_json_atomic(path, result.report)
        csv = write_text_atomic(Path(a.out) / "predictions.csv", predictions_csv(result, result.report["classes"]))
        print(f"\nwrote {path} and {csv}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from sramflow.cli_args import add_model_args
    from sramflow.cli_checks import existing_dir, existing_file, out_dir, positive_int

    p = sub.add_parser("evaluate", help="float and INT8 accuracy on HAM10000 or an image folder")
    add_model_args(p)
    p.add_argument("--data", required=True, type=existing_dir, help="HAM10000 folder (metadata CSV, images found recursively) "
                   "or an image folder <class>/<image>")
    p.add_argument("--split", choices=("train", "val", "test", "all"), default="test",
                   help="split of the split file to evaluate; 'all': every image in the folder (default test)")
    p.add_argument("--split-file", default=None, type=existing_file, help="split JSON (default weights/ham10000_split.json)")
    p.add_argument("--out", default=None, type=out_dir, help="folder for accuracy_report.json")
    p.add_argument("--calib-images", type=positive_int, default=200, help="training images for INT8 calibration (default 200)")
    p.add_argument("--calib-data", default=None, type=existing_dir, help="HAM10000 folder holding the training images (default --data)")
    p.add_argument("--calib-method", choices=("minmax", "percentile", "mse"), default="percentile",
                   help="activation ranges (default percentile, as sramflow.quant.api)")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--float-only", action="store_true", help="skip the INT8 half")
    from sramflow.cli_args import add_weight_bits_arg

    add_weight_bits_arg(p)
    p.add_argument("--tta", choices=("none", "hflip", "flips"), default="none",
                   help="test-time augmentation: also classify from flipped views (hflip: 2 passes; flips: 4, with "
                        "vertical and both) and sum the outputs; reported beside the single-pass figures, and costs "
                        "that many inferences (default none)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_evaluate)
