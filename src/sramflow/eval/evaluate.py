"""Evaluate a model on HAM10000 (or an image folder): float (torch) and INT8 (the integer reference).

Both halves see exactly the same preprocessed arrays (``sramflow.data.preprocess``). INT8 is
calibrated on training images only: the ``train`` ids of the split file, found in ``calib_data``
(default: the evaluated folder). Images that do not decode are skipped by name and counted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sramflow.data.calibration import DEFAULT_SPLIT_FILE, given_or_default_split_file, training_items
from sramflow.data.dataset import Item, Skipped, ham_items, iter_batches
from sramflow.data.ham10000 import LABELS, MELANOMA, load_ham10000, read_split, select
from sramflow.data.imagefolder import is_ham10000, load_image_folder
from sramflow.errors import DataError, SramflowError
from sramflow.eval.bootstrap import BootstrapResult, bootstrap_intervals, interval_lines
from sramflow.eval.metrics import Metrics, agreement, compute_metrics
from sramflow.eval.tta import tta_description, tta_logits, tta_passes
from sramflow.flow.calibration import calibrate
from sramflow.frontend.source import DEFAULT_RESOLUTION, ModelSource
from sramflow.ir.graph import Graph
from sramflow.ir.qgraph import QuantizedGraph

# Beside the committed checkpoint, found from the package (not the working directory) so `run --data` works anywhere.
SPLITS = ("train", "val", "test", "all")


@dataclass(frozen=True)
class EvalConfig:
    data: str
    split: str = "test"
    split_file: str | None = None
    calib_data: str | None = None
    calib_images: int = 200
    calib_method: str = "percentile"
    batch_size: int = 64
    int8: bool = True
    seed: int = 0
    progress: bool = True
    limit: int | None = None  # evaluate only the first N images of the split (in split-file order)
    weight_bits: int | str = 8  # --weight-bits spec; not all 8: a third, mixed-precision column (post-training)
    tta: str = "none"  # test-time augmentation (eval.tta.TTA_MODES), reported beside the single-pass figures


@dataclass(frozen=True)
class EvalData:
    items: tuple[Item, ...]
    class_names: tuple[str, ...]
    missing: tuple[str, ...]  # listed in the metadata, not on disk
    description: str
    groups: Mapping[str, str] | None = None  # image name -> lesion id (the bootstrap's unit); None: images


@dataclass(frozen=True)
class EvalResult:
    n_images: int
    float_metrics: Metrics
    int8_metrics: Metrics | None
    agreement: float | None
    skipped: tuple[str, ...]
    report: dict[str, Any]
    predictions: tuple[tuple[str, int, int, int | None], ...] = ()  # (image, true, float, INT8) class indices
    intervals: BootstrapResult | None = None
    mixed: tuple[int, ...] = ()  # --weight-bits: the mixed-precision prediction of each row, in order


def checkpoint_header(path: str | None) -> dict[str, str]:
    """Metadata of a safetensors checkpoint (resolution, classes), or {} for other files."""
    if not path or not str(path).endswith(".safetensors") or not Path(path).is_file():
        return {}
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="np") as f:
            return dict(f.metadata() or {})
    except Exception:  # unreadable headers are reported by the checkpoint loader itself
        return {}


def resolve_data(cfg: EvalConfig, class_names: Sequence[str] | None) -> EvalData:
    if cfg.split not in SPLITS:
        raise DataError(f"--split must be one of {', '.join(SPLITS)}, got {cfg.split!r}")
    if is_ham10000(cfg.data):
        ds = load_ham10000(cfg.data)
        split = None
        if cfg.split != "all":
            sf = given_or_default_split_file(cfg.split_file or None)
            if sf is None:
                raise DataError(f"--split {cfg.split} needs the split file {DEFAULT_SPLIT_FILE} (evaluate also takes "
                                "--split-file); or use --split all")
            split = read_split(sf)
        samples = select(ds, split, cfg.split)
        if not samples:
            raise DataError(f"{cfg.data}: no images of split {cfg.split!r} found (does the split file belong to this data?)")
        return EvalData(tuple(ham_items(samples)), LABELS, ds.missing, f"HAM10000 {cfg.data} ({cfg.split})",
                        {s.image_id: s.lesion_id for s in samples})
    if cfg.split != "all":
        raise DataError(f"{cfg.data}: an image folder (no HAM10000 metadata CSV) has no splits; use --split all")
    f = load_image_folder(cfg.data, class_names)
    return EvalData(f.items, f.class_names, (), f"image folder {cfg.data}")


def calibration_items(cfg: EvalConfig) -> list[Item]:
    """``calib_images`` training images (seeded sample of the split file's train ids)."""
    return training_items(cfg.calib_data or cfg.data, cfg.split_file or None, cfg.calib_images, cfg.seed)


def calibrate_int8(graph: Graph, cfg: EvalConfig, resolution: int, skipped: Skipped) -> QuantizedGraph:
    """The INT8 model as evaluate() runs it: ``cfg.calib_images`` training images, ``cfg.calib_method`` ranges."""
    calib = [b.x for b in iter_batches(calibration_items(cfg), resolution, cfg.batch_size, skipped)]
    if not calib:
        raise DataError("none of the calibration images decoded")
    return calibrate(graph, np.concatenate(calib), cfg.calib_method).qgraph


def _float_predictor(src: ModelSource, graph: Any) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    """Float logits: the torch model for built-in/checkpoint models, the float reference for ONNX."""
    import torch

    if src.onnx:
        from sramflow.reference.float_exec import run_float

        return (lambda x: np.asarray(run_float(graph, x), dtype=np.float32).reshape(len(x), -1)), 0
    if src.checkpoint:
        from sramflow.models.checkpoint import load_checkpoint

        net = load_checkpoint(src.checkpoint, src.model, src.num_classes, src.trust_checkpoint).model
    else:
        from sramflow.models.efficientnet import build_model

        net = build_model(src.model or "efficientnet_b0", src.num_classes or len(LABELS), seed=src.seed)
    net = net.eval().to(memory_format=torch.channels_last)

    def run(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net(torch.from_numpy(x).contiguous(memory_format=torch.channels_last)).numpy()

    return run, int(net.num_classes)


def _mixed_graph(graph: Any, qgraph: Any, spec: int | str) -> Any:
    """The INT8 graph with the spec's groups requantized to INT4 (``quant.weight_bits``); None when there is
    no INT8 graph or the spec is all 8 (the mixed column would repeat the int8 one)."""
    from sramflow.ir.precision import all_int8
    from sramflow.quant.weight_bits import with_weight_bits

    if qgraph is None or all_int8(spec):
        return None
    return with_weight_bits(graph, qgraph, spec)


def evaluate(src: ModelSource, cfg: EvalConfig, qgraph: Any = None) -> EvalResult:
    """Float and INT8 metrics. ``qgraph``: an already calibrated QuantizedGraph of the same model
    (as ``sramflow run`` has); without it, INT8 is calibrated here on training-split images."""
    from tqdm import tqdm

    from sramflow.frontend.source import load_graph

    tta_passes(cfg.tta)  # refuse an unknown mode before any work
    header = checkpoint_header(src.checkpoint)
    resolution = src.resolution or int(header.get("resolution", DEFAULT_RESOLUTION))
    src = ModelSource(src.model, src.num_classes, resolution, src.checkpoint, src.onnx, src.trust_checkpoint, src.seed)
    header_classes = tuple(header["classes"].split(",")) if header.get("classes") else None
    data = resolve_data(cfg, header_classes)
    if cfg.limit is not None:
        if cfg.limit < 1:
            raise DataError(f"the image limit must be at least 1, got {cfg.limit}")
        data = EvalData(data.items[: cfg.limit], data.class_names, data.missing,
                        f"{data.description}, first {min(cfg.limit, len(data.items))} images", data.groups)
    loaded = load_graph(src)
    if loaded.num_classes != len(data.class_names):
        raise SramflowError(f"the model has {loaded.num_classes} outputs but the data has {len(data.class_names)} classes")
    predict_float, _ = _float_predictor(src, loaded.graph)

    skipped_calib = Skipped()
    if not cfg.int8:
        qgraph = None
    elif qgraph is None:
        qgraph = calibrate_int8(loaded.graph, cfg, resolution, skipped_calib)
    mixed = _mixed_graph(loaded.graph, qgraph, cfg.weight_bits)

    skipped = Skipped()
    y_true, p_float, p_int8, p_mixed, names = [], [], [], [], []
    tta_preds: dict[str, list[np.ndarray]] = {}
    predictors: dict[str, Callable[[np.ndarray], np.ndarray]] = {"float": predict_float}
    if qgraph is not None:
        from sramflow.quant.api import predict_int8

        predictors["int8"] = lambda x: predict_int8(qgraph, x)
        if mixed is not None:
            predictors["mixed"] = lambda x: predict_int8(mixed, x)
    single = {"float": p_float, "int8": p_int8, "mixed": p_mixed}
    bar = tqdm(total=len(data.items), desc="evaluate" + ("" if cfg.tta == "none" else f" (TTA {cfg.tta})"),
               unit="img", disable=not cfg.progress)
    for batch in iter_batches(data.items, resolution, cfg.batch_size, skipped):
        y_true.append(batch.labels)
        names.extend(batch.names)
        for name, predict in predictors.items():
            logits = np.asarray(predict(batch.x)).reshape(len(batch.x), -1)
            single[name].append(logits.argmax(1))
            if cfg.tta != "none":
                tta_preds.setdefault(f"{name}_tta", []).append(
                    tta_logits(predict, batch.x, cfg.tta, identity=logits).argmax(1))
        bar.update(len(batch.names))
    bar.update(len(skipped))
    bar.close()
    if not y_true:
        raise DataError(f"{cfg.data}: none of the {len(data.items)} images decoded")
    yt, pf = np.concatenate(y_true), np.concatenate(p_float)
    positive = MELANOMA if MELANOMA in data.class_names else None
    m_float = compute_metrics(yt, pf, data.class_names, positive)
    m_int8, agree, pi = None, None, None
    if p_int8:
        pi = np.concatenate(p_int8)
        m_int8 = compute_metrics(yt, pi, data.class_names, positive)
        agree = agreement(pf, pi)
    preds = {"float": pf} if pi is None else {"float": pf, "int8": pi}
    if p_mixed:
        preds["mixed"] = np.concatenate(p_mixed)
    preds.update({k: np.concatenate(v) for k, v in tta_preds.items()})
    groups = None if data.groups is None else [data.groups[n] for n in names]
    paired = (("int8", "float"), ("mixed", "int8"), ("mixed", "float"),
              *((f"{m}_tta", m) for m in ("float", "int8", "mixed")))
    ci = bootstrap_intervals(yt, preds, groups, len(data.class_names),
                             None if positive is None else list(data.class_names).index(positive),
                             positive or "positive", seed=cfg.seed, paired=paired)
    report = build_report(cfg, src, data, m_float, m_int8, agree, skipped, skipped_calib, resolution)
    report["confidence_intervals"] = ci.to_json()
    if "mixed" in preds:
        report["weight_bits"] = cfg.weight_bits
        report["mixed"] = {**compute_metrics(yt, preds["mixed"], data.class_names, positive).to_json(),
                           "weight_bits": cfg.weight_bits,
                           "method": "PTQ of this checkpoint's weights (a QAT-trained checkpoint "
                                     "says so in its .metrics.json)",
                           "top1_agreement_int8_vs_mixed": agreement(pi, preds["mixed"])}
    if tta_preds:
        report["tta"] = {**tta_description(cfg.tta),
                         **{k: compute_metrics(yt, preds[k], data.class_names, positive).to_json() for k in tta_preds}}
    rows = tuple((n, int(t), int(f), None if pi is None else int(pi[i]))
                 for i, (n, t, f) in enumerate(zip(names, yt, pf)))
    mixed = tuple(int(v) for v in preds["mixed"]) if "mixed" in preds else ()
    return EvalResult(int(len(yt)), m_float, m_int8, agree, tuple(skipped.names()), report, rows, ci, mixed)


def predictions_csv(result: EvalResult, class_names: Sequence[str]) -> str:
    """One line per evaluated image: its name, true class and the float and INT8 predictions (class names), and
    the mixed-precision one when ``--weight-bits`` gave a mixed column (so it can be compared across checkpoints)."""
    lines = ["image,true,float,int8" + (",mixed" if result.mixed else "")]
    for k, (name, t, f, q) in enumerate(result.predictions):
        mixed = f",{class_names[result.mixed[k]]}" if result.mixed else ""
        lines.append(f"{name},{class_names[t]},{class_names[f]},{'' if q is None else class_names[q]}{mixed}")
    return "\n".join(lines) + "\n"


def build_report(cfg: EvalConfig, src: ModelSource, data: EvalData, m_float: Metrics, m_int8: Metrics | None,
                 agree: float | None, skipped: Skipped, skipped_calib: Skipped, resolution: int) -> dict[str, Any]:
    def block(m: Metrics) -> dict[str, Any]:
        return {**m.to_json(), "top1_agreement_float_vs_int8": agree}

    return {
        "n_images": m_float.n_images,
        "data": data.description,
        "split": cfg.split,
        "model": src.checkpoint or src.onnx or src.model,
        "resolution": resolution,
        "classes": list(data.class_names),
        "n_skipped_undecodable": len(skipped),
        "skipped_undecodable": skipped.reasons,
        "n_missing_from_disk": len(data.missing),
        "missing_from_disk": list(data.missing),
        "float": block(m_float),
        "int8": block(m_int8) if m_int8 is not None else None,
        "int8_calibration": None if m_int8 is None else {
            "images": cfg.calib_images, "method": cfg.calib_method, "source": "train split of the split file",
            "skipped_undecodable": skipped_calib.names()},
        "top1_agreement_float_vs_int8": agree,
    }


def per_class_table(result: EvalResult) -> str:
    def f(v: float | None) -> str:
        return "   -  " if v is None else f"{v:6.3f}"

    mf, mi = result.float_metrics, result.int8_metrics
    head = f"{'class':<8}{'support':>8}  {'float P':>7} {'R':>6} {'F1':>6}"
    if mi is not None:
        head += f"   {'int8 P':>6} {'R':>6} {'F1':>6}"
    lines = [head, "-" * len(head)]
    for i, c in enumerate(mf.per_class):
        row = f"{c.name:<8}{c.support:>8}  {f(c.precision):>7} {f(c.recall)} {f(c.f1)}"
        if mi is not None:
            q = mi.per_class[i]
            row += f"   {f(q.precision)} {f(q.recall)} {f(q.f1)}"
        lines.append(row)
    lines.append("-" * len(head))

    def summary(name: str, m: Metrics) -> str:
        s = f"{name}: accuracy {m.accuracy:.4f}  balanced accuracy {m.balanced_accuracy:.4f}"
        if m.positive_class:
            s += f"  {m.positive_class} sensitivity {f(m.sensitivity).strip()} specificity {f(m.specificity).strip()}"
        return s

    lines.append(summary("float", mf))
    if mi is not None:
        lines.append(summary("int8 ", mi))
        lines.append(f"float-vs-INT8 top-1 agreement {result.agreement:.4f}")
    if result.intervals is not None:
        lines.append(interval_summary(result.intervals))
    lines.append(f"{result.n_images} images evaluated, {len(result.skipped)} skipped (do not decode)"
                 + (f": {', '.join(result.skipped[:10])}" if result.skipped else ""))
    return "\n".join(lines)


def interval_summary(ci: BootstrapResult) -> str:
    """The 95 % intervals, one line per model, e.g. ``float  accuracy 0.771..0.809 ...``."""
    head = (f"{ci.level:.0%} intervals (bootstrap over {ci.n_units} {ci.unit}s, {ci.resamples} resamples; "
            "the same draws for float and INT8):")
    return "\n".join([head, *interval_lines(ci)])
