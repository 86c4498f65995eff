"""`sramflow run`: the whole flow on one model and one hardware description, step by step.

analyze -> quantize (real images, stored calibration, or random, said plainly) -> verify against
LiteRT's reference kernels -> accuracy (with --data) -> SRAM design -> map + simulate (and the
write-up's claimed macro beside it) -> functional simulation on real bytes -> baselines -> report.
Every step writes its JSON atomically into the output folder (each with its provenance) and hands its typed
result on; the report is built from those results, never from the files read back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sramflow.errors import SramflowError
from sramflow.flow.calibration import (SAMPLE_INPUTS, Calibration, calibration_file, from_ranges, save_ranges,
                                       stored_ranges)
from sramflow.flow.calibration import at_weight_bits
from sramflow.flow.calibration import calibrate as flow_calibrate
from sramflow.frontend.source import LoadedGraph, ModelSource, load_graph
from sramflow.jsonio import write_json_atomic
from sramflow.report.deployment import DeploymentConfig

if TYPE_CHECKING:
    from sramflow.design.space import AdviseSpace
    from sramflow.hw.area import AreaPower
    from sramflow.hw.spec import HardwareSpec
    from sramflow.report.inputs import WhatItWouldTake

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CHECKPOINT = REPO_ROOT / "weights" / "efficientnet_b0_ham10000.safetensors"
CLAIMED_HW = "sky130-design1-claimed"


@dataclass(frozen=True)
class RunConfig:
    source: ModelSource
    hw: str = "sky130-design1"
    out_dir: str = "sramflow-out"
    data: str | None = None
    split: str = "test"
    eval_limit: int | None = None  # evaluate at most this many images of the split
    tta: str = "none"  # with --data: test-time augmentation measured beside the single pass (eval.tta)
    calib_images: int = 256
    method: str = "percentile"
    objective: str = "latency"
    # energy objective: each simulation's budget, this many percent above its latency objective's cycles
    cycle_budget_over_pct: float | None = None
    fusion: str = "depth-first"  # ``mapping.epilogue.FUSION_MODES``; the CLI's default (``cli_args.FUSION_DEFAULT``)
    functional: bool = True
    host_baseline: bool = True
    save_calibration: bool = False  # store the calibration ranges beside the checkpoint (needs --data)
    deployment: DeploymentConfig = field(default_factory=DeploymentConfig)
    seed: int = 0
    weight_bits: int | str = 8  # --weight-bits spec (ir.precision): INT4 weights for the layer groups it names
    # "What it would take": search the design space (sramflow.design) for the write-up's claims on this run's model
    advise: bool = True
    advise_grid: str = "coarse"  # a name of design.space.GRIDS
    advise_space: AdviseSpace | None = None  # a space of its own instead of the grid (API, tests)
    # processes for the search; 0: one per CPU. One by default: the default search simulates ~40 B0 designs, and
    # spawning a pool (per fusion mode) cost more CPU than it saved on 2 cores (36.5 s CPU serial, 55.2 s with 2,
    # measured before the refinement of issue 18 was merged)
    advise_workers: int = 1


@dataclass(frozen=True)
class RunResult:
    out_dir: Path
    files: tuple[Path, ...]
    summary: dict[str, Any]


def default_source(src: ModelSource) -> ModelSource:
    """The embedded defaults: the committed B0 HAM10000 checkpoint at the write-up's 224x224."""
    resolution = src.resolution or 224
    if src.checkpoint or src.onnx or src.model:
        return replace(src, resolution=resolution)
    if not DEFAULT_CHECKPOINT.is_file():
        raise SramflowError(f"the reference checkpoint {DEFAULT_CHECKPOINT} is missing; pass --checkpoint, --onnx or --model")
    return replace(src, checkpoint=str(DEFAULT_CHECKPOINT), resolution=resolution)


class Progress:
    """Numbered steps on the terminal, with the time each took."""

    def __init__(self, total: int, quiet: bool = False) -> None:
        self.total, self.i, self.quiet = total, 0, quiet

    def step(self, title: str, fn: Callable[[], Any]) -> Any:
        self.i += 1
        if not self.quiet:
            print(f"[{self.i}/{self.total}] {title} ...", flush=True)
        t0 = time.perf_counter()
        out = fn()
        if not self.quiet:
            print(f"      done in {time.perf_counter() - t0:.1f} s", flush=True)
        return out


def _write(out: Path, name: str, obj: dict[str, Any], files: list[Path]) -> dict[str, Any]:
    files.append(write_json_atomic(out / name, obj))
    return obj


def calibrate(cfg: RunConfig, loaded: LoadedGraph) -> Calibration:
    """Real training images with --data; else ranges stored beside the checkpoint; else random inputs."""
    from sramflow.data.calibration import random_calibration

    if cfg.data:
        from sramflow.data.calibration import training_items
        from sramflow.data.dataset import load_arrays

        items = training_items(cfg.data, None, cfg.calib_images, cfg.seed)
        x = load_arrays(items, loaded.resolution).x
        desc = f"{len(x)} images of the training split of {cfg.data} (seeded sample, seed {cfg.seed})"
        return flow_calibrate(loaded.graph, x, cfg.method, desc, cfg.seed, progress=True)
    stored = calibration_file(cfg.source.checkpoint, loaded.resolution, cfg.method)
    found = stored_ranges(stored, loaded.graph)
    if stored is not None and found is not None:
        r, origin = found
        sample = random_calibration(SAMPLE_INPUTS, loaded.resolution, cfg.seed).images
        return from_ranges(loaded.graph, r, cfg.method, f"ranges stored in {stored.name} ({origin})", sample,
                           f"{len(sample)} random standard-normal inputs (no --data given): SQNR on real images "
                           "needs --data")
    cal = random_calibration(32, loaded.resolution, cfg.seed)
    desc = cal.source + "; no --data given and no stored calibration for this checkpoint"
    return flow_calibrate(loaded.graph, cal.images, cfg.method, desc, cfg.seed, progress=True)


def host_litert_ms(tflite_path: Path, x_int8: np.ndarray, repeats: int = 5) -> dict[str, Any]:
    """Host CPU context: LiteRT's default (XNNPACK) int8 interpreter on the same .tflite, measured here."""
    import os

    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(tflite_path), num_threads=os.cpu_count() or 1)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    x = np.ascontiguousarray(x_int8[:1].transpose(0, 2, 3, 1)).astype(inp["dtype"])
    it.set_tensor(inp["index"], x)
    it.invoke()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        it.invoke()
        times.append((time.perf_counter() - t0) * 1e3)
    return {"engine": "LiteRT int8, default op resolver (XNNPACK)", "threads": os.cpu_count() or 1,
            "timing_ms_median": float(np.median(times)), "repeats": repeats,
            "note": "host CPU of the machine that ran sramflow: context only, not an embedded target"}


def baselines(analysis: dict[str, Any], host: dict[str, Any] | None) -> dict[str, Any]:
    from dataclasses import asdict

    from sramflow.report.baselines import MCUS, estimate_mcu

    macs = analysis["conv_gemm_macs"]
    weights = analysis["int8_bytes"]
    peak = analysis["peak_activation_bytes_int8_fused"]
    mcus = []
    for m in MCUS:
        e = estimate_mcu(m, macs, weights, peak)
        mcus.append({**asdict(m), "latency_ms": e.latency_ms, "energy_mj": e.energy_mj,
                     "weights_fit_flash": e.weights_fit_flash, "activations_fit_sram": e.activations_fit_sram,
                     "how": "modelled: MACs x cycles/MAC at the clock; non-MAC layers and memory stalls excluded"})
    return {"mcus": mcus, "host": host, "macs": macs, "int8_model_bytes": weights,
            "peak_activation_bytes_int8_fused": peak}


def _functional(loaded: LoadedGraph, cal: Calibration, sim_result: Any, out: Path, input_label: str) -> dict[str, Any] | None:
    try:
        from sramflow.funcsim.api import run_functional_graph
    except ModuleNotFoundError:
        return None
    return run_functional_graph(loaded.graph, cal.qgraph, sim_result, cal.sample[:1], out, input_label=input_label)


def sample_label(cfg: RunConfig, n: int) -> str:
    """What the verification sample is: without --data it is always random inputs, whatever the calibration was."""
    if cfg.data:
        return f"the first {n} calibration images (training split of {cfg.data})"
    return f"{n} random standard-normal inputs (seed {cfg.seed}; real images need --data)"


# Components whose figures can carry an assumed range, as (report name, attribute of HardwareSpec).
_RANGED = (("offchip", "offchip"), ("mac_array", "mac_array"), ("vector_unit", "vector_unit"))
_UNITS = {"pj": "pJ", "uw": "uW", "cycles": "cycles", "bytes": "B", "cycle": "cycle", "ns": "ns", "um2": "um^2"}


def _unit(field_name: str) -> str:
    tokens = [_UNITS[t] for t in field_name.split("_") if t in _UNITS]
    return "/".join(tokens) if len(tokens) <= 2 else " ".join(tokens)


def _with_field(hw: Any, component: str, field_name: str, value: float) -> Any:
    if component.startswith("sram["):
        i = int(component[5:-1])
        old = hw.sram[i]
        v = type(getattr(old, field_name))(value)
        return replace(hw, sram=tuple(replace(m, **{field_name: v}) if j == i else m for j, m in enumerate(hw.sram)))
    part = getattr(hw, component)
    return replace(hw, **{component: replace(part, **{field_name: type(getattr(part, field_name))(value)})})


def held_layout(sim: Any) -> tuple[int | None, str]:
    """Where the headline chose between the whole one-level SRAM and its splits into tiles and a region
    (``sim.api.splits_to_try``): the tile bytes of the one it kept (None: the whole SRAM) and the report's words for
    it; (None, "") where it chose nothing."""
    from sramflow.hw.partition import is_partitioned

    if not sim.splits_tried:
        return None, ""
    if is_partitioned(sim.hw):
        tiles = sim.hw.sram[0].size_bytes
        return tiles, (f"the headline's split of the SRAM ({tiles:,} B of tiles, the rest a region for depth-first "
                       "groups)")
    return None, "the headline's whole SRAM as tile buffer (no split)"


def sensitivity(prep: Any, hw: Any, objective: str, base: Any, over_pct: float | None = None,
                held: tuple[int | None, str] = (None, "")) -> Any:
    """The headline with each assumed figure that states a range at its low and its high end (one at a time).
    ``held`` (``held_layout``): the split (or the whole SRAM) the headline kept, which every point keeps: each point
    maps that one layout, not the whole SRAM and its three splits again (four mappings a point: the 64 KiB edit's
    eight points under energy take 11 min with one); its tilings, cuts and groups are still chosen anew."""
    from dataclasses import fields

    from sramflow.hw.partition import partitioned
    from sramflow.report.inputs import Sensitivity, SensitivityPoint
    from sramflow.sim.api import simulate_prepared
    from sramflow.sim.writers import report_json

    tiles, held_text = held

    def point(h: Any) -> Any:
        h = partitioned(h, tiles) if tiles else h
        return report_json(simulate_prepared(prep, h, objective, over_fastest_pct=over_pct,
                                             splits=not held_text))["total"]

    parts = [(f"sram[{i}]", m) for i, m in enumerate(hw.sram)] + [(name, getattr(hw, attr)) for name, attr in _RANGED]
    points, unranged = [], []
    for comp, part in parts:
        for f in fields(part):
            value = getattr(part, f.name)
            if f.name in ("source", "field_sources") or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            src = part.source_of(f.name)
            if src.kind != "assumed":
                continue
            if src.low is None or src.high is None:
                unranged.append(f"{comp}.{f.name}")
                continue
            for end, at in (("low", src.low), ("high", src.high)):
                t = point(_with_field(hw, comp, f.name, at))
                points.append(SensitivityPoint(comp, f.name, _unit(f.name), float(value), end, float(at),
                                               t["time_ms"], t["energy_uj"] / 1e3))
    return Sensitivity(base["time_ms"], base["energy_uj"] / 1e3, tuple(points), tuple(unranged), held_text)


def _provenance(cfg: RunConfig, stored_calibration: Path | None) -> Any:
    from sramflow.hw.report import hardware_inputs
    from sramflow.jsonio import current_provenance, input_file, make_provenance

    outer = current_provenance()
    command = outer.command if outer else f"sramflow.run.run(out_dir={cfg.out_dir!r}, hw={cfg.hw!r}) (Python API)"
    inputs = (input_file("checkpoint", cfg.source.checkpoint) + input_file("onnx", cfg.source.onnx)
              + hardware_inputs(cfg.hw) + input_file("calibration", stored_calibration))
    return make_provenance(command, inputs)


def _notes(cfg: RunConfig, resolution: int) -> tuple[str, ...]:
    """Said at the top of the report: what makes this run's figures differ from what the checkpoint was made for."""
    from sramflow.eval.evaluate import checkpoint_header

    notes: tuple[str, ...] = ()
    if cfg.weight_bits != 8:
        notes = (f"Weights at --weight-bits {cfg.weight_bits} (INT4: per-channel symmetric [-7, 7], packed two per "
                 "byte): quantization, verification, latency, energy, traffic and the functional check are of this "
                 "mixed model; accuracy figures are the INT8 model's (INT4 accuracy is not measured yet: it needs "
                 "quantization-aware training).",)
    trained = checkpoint_header(cfg.source.checkpoint).get("resolution")
    if trained and int(trained) != resolution:
        return notes + (f"The checkpoint was trained at {trained} px; this run simulates {resolution} px inputs (the "
                        f"write-up's size). Latency, energy and traffic are those of {resolution} px inference; its "
                        f"accuracy figures on file are at {trained} px.",)
    return notes


ADVISE_DIR = "advise"
ADVISE_OBJECTIVE = "energy"  # what `sramflow advise` maps with by default: the section shows what that command reports
ADVISE_SHOWN = 3  # designs in the section (advise.json lists more)


def _shown_path(path: str) -> str:
    """A path as a reader would type it: relative to the working folder when inside it."""
    p = Path(path).resolve()
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def model_args(src: ModelSource, loaded: LoadedGraph) -> list[str]:
    """The model arguments of a ``sramflow`` command that loads the same model as this run."""
    args: list[str] = []
    if src.checkpoint:
        args += ["--checkpoint", _shown_path(src.checkpoint)]
    if src.onnx:
        args += ["--onnx", _shown_path(src.onnx)]
    if src.model:
        args += ["--model", src.model]
    if src.num_classes:
        args += ["--num-classes", str(src.num_classes)]
    args += ["--resolution", str(loaded.resolution)]
    if src.trust_checkpoint:
        args.append("--trust-checkpoint")
    return args


def _size(n: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale:,} {unit}"
    return f"{n:,} B"


def _weights(spec: Any) -> str:
    """'8' or the groups that are not 8 bit ("4 bit: pointwise, conv; 8 elsewhere")."""
    if not isinstance(spec, str) or "=" not in spec:
        return f"{spec} bit"
    pairs = dict(x.split("=", 1) for x in spec.split(","))
    low = {g: b for g, b in pairs.items() if b != "8"}
    by_bits = {b: [g for g, x in low.items() if x == b] for b in dict.fromkeys(low.values())}
    return "; ".join(f"{b} bit: {', '.join(gs)}" for b, gs in by_bits.items()) + "; 8 bit elsewhere"


def hardware_text(params: dict[str, Any]) -> str:
    """A design's parameters in words; parameters this function does not know are listed as they are."""
    known = ("sram_bytes", "l2_bytes", "macs_per_cycle", "clock_mhz", "offchip", "fusion", "weight_bits",
             "weights_on_chip")
    words = []
    if "sram_bytes" in params:
        words.append(f"SRAM {_size(int(params['sram_bytes']))}"
                     + (f" + L2 {_size(int(params['l2_bytes']))}" if params.get("l2_bytes") else ""))
    if "macs_per_cycle" in params:
        words.append(f"{params['macs_per_cycle']:,} MACs/cycle")
    if "clock_mhz" in params:
        words.append(f"{params['clock_mhz']:g} MHz")
    if "offchip" in params:
        words.append(str(params["offchip"]))
    if "fusion" in params:
        words.append(f"fusion {params['fusion']}")
    if "weight_bits" in params:
        words.append(f"weights {_weights(params['weight_bits'])}")
    if params.get("weights_on_chip"):
        words.append("all weights held on chip (loaded once at boot)")
    words += [f"{k} {v}" for k, v in params.items() if k not in known]
    return ", ".join(words)


def _searched_text(searched: dict[str, Any], grid: str) -> str:
    if {"points", "simulated", "pruned_by_bounds"} <= set(searched):
        return (f"{searched['points']:,} designs of the {grid} space ({searched['simulated']:,} simulated, "
                f"{searched['pruned_by_bounds']:,} pruned by their lower bounds without mapping)")
    return ", ".join(f"{k} {v}" for k, v in searched.items() if isinstance(v, int | float | str))


def advice_from_dict(d: dict[str, Any], folder: str, grid: str, rerun_prefix: list[str], design1: AreaPower
                     ) -> WhatItWouldTake:
    """The section's typed input from the search's result (the advise.json contract: targets, feasible, designs,
    bounds, searched), the folder it was written to and this run's hardware (``hw.area.AreaPower``)."""
    import shlex

    from sramflow.report.inputs import DesignFigures, TargetBound, WhatItWouldTake

    designs = []
    for x in d["designs"][:ADVISE_SHOWN]:
        off = x.get("offchip_bytes")
        cmd = [*rerun_prefix, "--hw", str(Path(folder) / x["hw_yaml"]), *x["simulate_args"]]
        designs.append(DesignFigures(hardware_text(dict(x.get("params") or {})), float(x["area_mm2"]),
                                     float(x["latency_ms"]), float(x["energy_mj"]), float(x["avg_power_mw"]),
                                     None if off is None else off / 1e6, str(x["binding"]), shlex.join(cmd)))
    targets = {k: float(v) for k, v in d["targets"].items()}
    bounds = tuple(TargetBound(k, targets[k], float(b["bound"]), bool(b.get("provable", b["bound"] > targets[k])),
                               str(b["why"])) for k, b in d["bounds"].items())
    return WhatItWouldTake(targets, bool(d["feasible"]), tuple(designs), bounds, _searched_text(d["searched"], grid),
                           folder, design1.total_mm2, design1.logic_leakage_uw)


def _publish(staging: Path, final: Path, files: list[Path]) -> None:
    """Move every file the search wrote into ``final`` (one atomic rename each: a reader never sees half a file);
    hardware YAMLs of an earlier run that this one did not write are removed."""
    import os
    import shutil

    moved = set()
    for src in sorted(p for p in staging.rglob("*") if p.is_file()):
        dst = final / src.relative_to(staging)
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)
        moved.add(dst)
        files.append(dst)
    for old in (final / "hw").glob("*.yaml"):
        if old not in moved:
            old.unlink()
    shutil.rmtree(staging)


def what_it_would_take(cfg: RunConfig, loaded: LoadedGraph, hw: HardwareSpec, out: Path, files: list[Path],
                       quiet: bool) -> WhatItWouldTake:
    """Search the design space for the write-up's claims on this run's model (``sramflow advise`` with its
    defaults), write its outputs into ``out/advise/`` and return the section's input.
    The search's point store starts empty every run, so every figure comes from the code that runs now."""
    import json
    import tempfile

    from sramflow.design.advise import Targets, advise
    from sramflow.design.evaluate import EvalOptions
    from sramflow.design.outputs import write_outputs
    from sramflow.design.space import GRIDS
    from sramflow.hw.area import area_power

    if cfg.advise_space is None and cfg.advise_grid not in GRIDS:
        raise SramflowError(f"advise grid {cfg.advise_grid!r} unknown; known: {', '.join(GRIDS)} (--advise-grid)")
    space = cfg.advise_space if cfg.advise_space is not None else GRIDS[cfg.advise_grid]
    grid = "given" if cfg.advise_space is not None else cfg.advise_grid
    final = out / ADVISE_DIR
    final.mkdir(parents=True, exist_ok=True)
    for stale in final.glob("points.sqlite*"):
        stale.unlink()
    info = {"model": loaded.model, "num_classes": loaded.num_classes, "resolution": loaded.resolution,
            "source": loaded.source}
    opts = EvalOptions(str(final), ADVISE_OBJECTIVE, cfg.advise_workers, progress=not quiet)
    adv = advise(loaded.graph, info, space, Targets(), opts)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=final))
    d, _ = write_outputs(adv, staging, ADVISE_OBJECTIVE)
    (staging / "advise.json").unlink()  # written below, atomically and with this run's provenance
    _publish(staging, final, files)
    doc = json.loads(json.dumps(d, default=str))  # plain JSON types, as write_outputs writes them
    _write(final, "advise.json", doc, files)
    folder = str(out / ADVISE_DIR)
    return advice_from_dict(doc, folder, grid, ["sramflow", "simulate", *model_args(cfg.source, loaded)],
                            area_power(hw))


def drop_stale_advice(out: Path) -> None:
    """Remove the "What it would take" outputs an earlier run wrote into ``out`` (``--no-advise`` now): the folder's
    files must describe this run. Only a folder holding an advise.json (ours) is removed."""
    import shutil

    folder = out / ADVISE_DIR
    if (folder / "advise.json").is_file():
        shutil.rmtree(folder)
    (out / "plots" / "what_it_would_take.png").unlink(missing_ok=True)


def run(cfg: RunConfig, quiet: bool = False) -> RunResult:
    from sramflow.jsonio import provenance_scope

    cfg = replace(cfg, source=default_source(cfg.source))
    out = Path(cfg.out_dir)
    if out.exists() and not out.is_dir():
        raise SramflowError(f"{out} is a file; the output folder must be a folder (it is created if missing)")
    stored = calibration_file(cfg.source.checkpoint, cfg.source.resolution or 224, cfg.method)
    used_stored = stored if (stored is not None and stored.is_file() and not cfg.data) else None
    with provenance_scope(_provenance(cfg, used_stored)):
        return _run(cfg, out, quiet)


def _run(cfg: RunConfig, out: Path, quiet: bool) -> RunResult:
    from sramflow.api import analysis_report
    from sramflow.hw.load import resolve_hw
    from sramflow.hw.report import sram_design_report
    from sramflow.ir.qgraph import save_qgraph
    from sramflow.quant.report import build_report as quant_report
    from sramflow.reference.run import quantize_input
    from sramflow.sim.api import prepare_graph, simulate_prepared
    from sramflow.sim.writers import layer_mapping_json, report_json, write_outputs
    from sramflow.sweep.precision import with_weight_bits
    from sramflow.tflite.export import export_tflite
    from sramflow.tflite.verify import verify

    if cfg.save_calibration and not (cfg.data and cfg.source.checkpoint):
        raise SramflowError("--save-calibration needs --data (training images) and a checkpoint")
    if cfg.tta != "none" and not cfg.data:
        raise SramflowError(f"--tta {cfg.tta} measures accuracy, which needs --data (a HAM10000 folder)")
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    steps = 9 + (1 if cfg.data else 0) + (1 if cfg.advise else 0)
    p = Progress(steps, quiet)
    hw = resolve_hw(cfg.hw)  # fail early on a bad hardware description

    loaded = p.step("load the model and analyze it", lambda: load_graph(cfg.source))
    analysis = _write(out, "model_analysis.json", analysis_report(loaded, hw.main_sram.size_bytes), files)

    cal = p.step("calibrate and quantize to INT8 (TFLite int8 spec)",
                 lambda: at_weight_bits(calibrate(cfg, loaded), loaded.graph, cfg.weight_bits))
    files += list(save_qgraph(cal.qgraph, out))
    tflite = export_tflite(cal.qgraph, out / "model_int8.tflite")
    files.append(tflite)
    qrep = quant_report(loaded.graph, cal.qgraph, cal.sample, {
        "source": loaded.source, "resolution": loaded.resolution, "num_classes": loaded.num_classes,
        "calibration": cal.description, "sqnr_inputs": cal.sample_description, "tflite_path": str(tflite)})
    _write(out, "quantization_report.json", qrep, files)
    if cfg.save_calibration:
        stored = calibration_file(cfg.source.checkpoint, loaded.resolution, cfg.method)
        files.append(save_ranges(cal, stored))

    label = sample_label(cfg, len(cal.sample))
    x8 = quantize_input(cal.qgraph, cal.sample[:1])
    ver = p.step("verify every tensor against LiteRT's reference kernels", lambda: verify(cal.qgraph, tflite, x8))
    _write(out, "verify_report.json", {"tflite": str(tflite), **ver.to_dict()}, files)

    accuracy = None
    if cfg.data:
        accuracy = p.step(f"accuracy on the {cfg.split} split, float and INT8", lambda: _accuracy(cfg, cal))
        _write(out, "accuracy_report.json", accuracy, files)

    _write(out, "sram_design.json", sram_design_report(hw), files)
    prep = with_weight_bits(prepare_graph(loaded.graph, cfg.fusion), cfg.weight_bits)  # the quantized model's packed weights
    budget = cfg.cycle_budget_over_pct  # each simulation's own fastest mapping + that many percent
    sim = p.step(f"map every layer onto {hw.name} and simulate",
                 lambda: simulate_prepared(prep, hw, cfg.objective, over_fastest_pct=budget))
    files += write_outputs(sim, out)
    unfused = None  # the report's per-group bytes without fusion: the same network, every node its own pass
    if cfg.fusion != "none":
        bare = with_weight_bits(prepare_graph(loaded.graph, "none"), cfg.weight_bits)
        unfused = {r.name: r.counts.offchip_bytes
                   for r in simulate_prepared(bare, hw, cfg.objective, over_fastest_pct=budget).nodes}
    claimed = p.step(f"the same on the write-up's claimed macro ({CLAIMED_HW})",
                     lambda: simulate_prepared(prep, resolve_hw(CLAIMED_HW), cfg.objective, over_fastest_pct=budget))
    _write(out, "claimed_macro_simulation.json", {"hw": CLAIMED_HW, "total": report_json(claimed)["total"]}, files)

    func = p.step("functional simulation on real bytes through the SRAM model",
                  lambda: _functional(loaded, cal, sim, out, f"the first of {label}") if cfg.functional else None)
    host = p.step("baselines: modelled microcontrollers, host LiteRT (XNNPACK)",
                  lambda: host_litert_ms(tflite, x8) if cfg.host_baseline else None)
    base = _write(out, "baselines.json", baselines(analysis, host), files)

    from sramflow.report.build import build_reports
    from sramflow.report.inputs import ReportInputs, checkpoint_accuracy

    sens = p.step("sensitivity: the headline at either end of each assumed figure's range",
                  lambda: sensitivity(prep, hw, cfg.objective, report_json(sim)["total"], budget, held_layout(sim)))
    advice = None
    if not cfg.advise:
        drop_stale_advice(out)
    if cfg.advise:
        advice = p.step("what it would take: the cheapest design meeting the write-up's claims (sramflow.design)",
                           lambda: what_it_would_take(cfg, loaded, hw, out, files, quiet))
    idle_uw = sum(m.leakage_uw * m.banks for m in hw.sram) + hw.mac_array.leakage_uw + hw.offchip.standby_power_uw
    inputs = ReportInputs(
        analysis=analysis, quantization=qrep, verify=ver.to_dict(), accuracy=accuracy, sram=sram_design_report(hw),
        simulation=report_json(sim), claimed=report_json(claimed), mapping=layer_mapping_json(sim), functional=func,
        baselines=base, hw=hw, idle_power_uw=idle_uw, sensitivity=sens,
        checkpoint=checkpoint_accuracy(cfg.source.checkpoint), sample_label=label,
        notes=_notes(cfg, loaded.resolution), advice=advice, unfused_offchip=unfused)
    summary = p.step("write INTEGRATION_SUMMARY.md, report.html and plots",
                     lambda: build_reports(inputs, cfg.deployment, out, files))
    return RunResult(out, tuple(files), summary)


def _accuracy(cfg: RunConfig, cal: Calibration) -> dict[str, Any]:
    from sramflow.eval.evaluate import EvalConfig, evaluate

    ecfg = EvalConfig(data=cfg.data, split=cfg.split, calib_images=cfg.calib_images, calib_method=cfg.method,
                      seed=cfg.seed, limit=cfg.eval_limit, tta=cfg.tta)
    from sramflow.eval.evaluate import checkpoint_header

    report = evaluate(cfg.source, ecfg, qgraph=cal.qgraph).report
    report["int8_calibration"] = {"description": cal.description, "method": cal.qgraph.method}
    trained = checkpoint_header(cfg.source.checkpoint).get("resolution")
    if trained and int(trained) != cfg.source.resolution:
        report["resolution_warning"] = (
            f"the checkpoint was trained at {trained} px but this run evaluates it at {cfg.source.resolution} px; "
            f"accuracy at the training resolution is in its model card (or run with --resolution {trained})")
    return report
