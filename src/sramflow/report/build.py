"""INTEGRATION_SUMMARY.md, report.html and the plots, from the typed results of one run."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from sramflow.jsonio import write_bytes_atomic, write_text_atomic
from sramflow.report import advice, plots
from sramflow.report.claims import check_claims
from sramflow.report.deployment import DeploymentConfig, battery_sentence
from sramflow.report.facts import claim_rows, deployment, run_context
from sramflow.report.hardware import (
    HEADERS,
    SENSITIVITY_HEADERS,
    hardware_rows,
    sensitivity_rows,
    sensitivity_sentence,
)
from sramflow.report.html import Image, Section, Table, render_page
from sramflow.report.inputs import ReportInputs
from sramflow.report.markdown import summary_markdown
from sramflow.report.rows import (
    FUSION_HEADERS, accuracy_paragraphs, budget_text, functional_rows, fusion_rows, fusion_sentence, group_bytes,
    perf_rows, quant_rows,
)

RESOURCES = ("offchip", "sram_port", "mac", "vector")
CLAIM_HEADERS = ("item", "write-up", "this run", "claimed macro", "how")


def _plot(out: Path, files: list[Path], name: str, png: bytes, alt: str) -> Image:
    files.append(write_bytes_atomic(out / "plots" / f"{name}.png", png))
    return Image(png, alt)


def _model_section(a: ReportInputs, out: Path, files: list[Path]) -> Section:
    m = a.analysis
    nodes = m["nodes"]
    rows = [["parameters", m["total_params"]], ["Conv/Gemm MACs", m["conv_gemm_macs"]],
            ["graph nodes (after BN folding)", len(nodes)], ["float32 bytes", m["float32_bytes"]],
            ["INT8 bytes (int8 weights + int32 biases)", m["int8_bytes"]],
            ["peak live activations, INT8, as TFLite runs it", m["peak_activation_bytes_int8"]],
            ["peak live activations, INT8, SiLU fused in place", m["peak_activation_bytes_int8_fused"]],
            [f"weight tensors fitting {m['sram_bytes']} B", f"{m['weight_tensors_fitting_bytes']} of {m['weight_tensors_total']}"]]
    img = _plot(out, files, "activations_per_layer", plots.bars_by_category(
        [n["output_bytes_int8"] for n in nodes], [n["op"] for n in nodes], "bytes (INT8)",
        "Output activation size per layer", names=[n["name"] for n in nodes]), "activation bytes per layer")
    return Section("Model", [f"{m['model']} from {m['source']}, {m['resolution']}x{m['resolution']}, "
                             f"{m['num_classes']} classes."], [Table(["quantity", "value"], rows), img])


def _quant_section(a: ReportInputs, out: Path, files: list[Path]) -> Section:
    q = a.quantization
    layers = [x for x in q["layers"] if x.get("sqnr_db") is not None]
    img = _plot(out, files, "sqnr_per_layer", plots.line_per_layer(
        [x["sqnr_db"] for x in layers], "SQNR (dB)", f"INT8 vs float, output SQNR per quantized op ({a.sample_label})",
        names=[x.get("name", "") for x in layers]), "per-layer SQNR")
    return Section("Quantization (TFLite int8 spec)", [q["spec"]],
                   [Table(["quantity", "value"], quant_rows(a)), img])


def _hardware_section(a: ReportInputs) -> Section:
    s = a.sram
    items: list[Table | Image] = [Table(HEADERS, hardware_rows(s), "every figure the cost model uses, with its source")]
    paragraphs = [s["description"], sensitivity_sentence(a.sensitivity)]
    if a.sensitivity and a.sensitivity.points:
        items.append(Table(SENSITIVITY_HEADERS, sensitivity_rows(a.sensitivity),
                           "the headline with one assumed figure at either end of its range"))
    return Section("Hardware, every memory level, and where each number comes from", paragraphs, items)


def _mapping_section(a: ReportInputs, out: Path, files: list[Path]) -> Section:
    mp = a.mapping
    words = mp["sram"]["words"]
    layers = mp["layers"]
    names = [x["name"] for x in layers]
    img = _plot(out, files, "sram_occupancy", plots.line_per_layer(
        [100.0 * x["words_used"] / words for x in layers], "% of SRAM words", "SRAM occupancy per layer",
        hline=100.0), "SRAM occupancy")
    swaps = _plot(out, files, "swaps_per_layer", plots.bars_by_category(
        [max(x["swaps"], 1) for x in layers], [x["op"] for x in layers], "DMA loads (swaps)", "SRAM refills per layer",
        names=names), "swaps per layer")
    rows = [[x["name"], x["op"], " ".join(f"{k}={v}" for k, v in x["tile_sizes"].items()), "/".join(x["loop_order"]),
             x["partial_sums"], x["swaps"], x["words_used"], x["fits_without_tiling"]] for x in layers]
    tiled = sum(1 for x in layers if not x["fits_without_tiling"])
    return Section("Mapping onto the SRAM", [f"{tiled} of {len(layers)} layers need tiling; objective {mp['objective']}"
                                             f"{budget_text(mp)}."],
                   [img, swaps], (Table(["layer", "op", "tile", "loop order", "partial sums", "swaps", "words used",
                                         "fits whole"], rows, "per-layer tiling (click to open)"),))


def _perf_section(a: ReportInputs, out: Path, files: list[Path]) -> Section:
    sim = a.simulation
    nodes, t = sim["nodes"], sim["total"]
    names = [n["name"] for n in nodes]
    lat = _plot(out, files, "latency_per_layer", plots.bars_by_category(
        [n["cycles"] for n in nodes], [n["binding_resource"] for n in nodes], "cycles",
        "Latency per layer, coloured by the binding resource", names=names), "latency per layer")
    busy = _plot(out, files, "busy_cycles_per_layer", plots.stacked_bars(
        {r: [n["busy_cycles"].get(r, 0) for n in nodes] for r in RESOURCES}, "busy cycles",
        "Busy cycles per resource and layer (resources overlap where double-buffered)", log=False), "busy cycles")
    energy = _plot(out, files, "energy_by_component", plots.horizontal_bars(
        dict(t["energy_uj_by_component"]), "uJ per inference", "Energy by component"), "energy")
    traffic = _plot(out, files, "offchip_traffic", plots.horizontal_bars(
        {k: v / 1e3 for k, v in t["offchip_bytes"].items()}, "kB per inference", "Off-chip traffic by operand"), "traffic")
    bound = _plot(out, files, "distance_to_lower_bound", plots.line_per_layer(
        [n["ratio_to_lower_bound"] for n in nodes], "cycles / lower bound", "Distance to the per-layer lower bound",
        log=True, hline=1.0, names=names), "lower bound ratio")
    traffic_bound = _plot(out, files, "offchip_traffic_to_lower_bound", plots.line_per_layer(
        [n["ratio_to_offchip_lower_bound"] for n in nodes], "off-chip bytes / lower bound",
        "Off-chip traffic / max(compulsory, I/O bound) per layer",
        log=True, hline=1.0, names=names), "off-chip traffic bound ratio")
    groups = group_bytes(sim, a.unfused_offchip) if a.unfused_offchip and sim.get("fusion_groups") else {}
    fused = [_plot(out, files, "offchip_per_group", plots.paired_bars(
        {"--fusion none": [v[0] / 1e3 for v in groups.values()],
         f"--fusion {sim.get('fusion', 'none')}": [v[1] / 1e3 for v in groups.values()]}, "kB per inference",
        "Off-chip traffic per fused group, without and with fusion", log=True), "off-chip bytes per group")] \
        if groups else []
    return Section(f"Latency, energy and power on {sim['hw']} (modelled)", [
        "Analytical simulation: counts from the schedule, cycles from the binding resource of each layer, energy = "
        "counts x per-access energies of the hardware description + leakage x time. Every energy is an estimate with "
        "the provenance in the hardware table above.", sensitivity_sentence(a.sensitivity), fusion_sentence(sim)],
        [Table(["quantity", "value"], perf_rows(a)), lat, busy, energy, traffic, *fused, bound, traffic_bound],
        (Table(FUSION_HEADERS, fusion_rows(sim), "fused groups"),) if sim.get("fusion_groups") else ())


def _functional_section(a: ReportInputs) -> Section | None:
    f = a.functional
    if not f:
        return None
    return Section("Functional simulation (measured on real bytes)",
                   ["The schedule executed on INT8 bytes through a model of the SRAM."],
                   [Table(["check", "result"], functional_rows(dict(f)))])


def _accuracy_section(a: ReportInputs, out: Path, files: list[Path]) -> Section:
    acc = a.accuracy
    items: list[Table | Image] = []
    if acc:
        for kind in ("float", "int8"):
            m = acc.get(kind)
            if not m:
                continue
            items.append(_plot(out, files, f"confusion_{kind}", plots.confusion_matrix(
                m["confusion_matrix"]["counts"], m["confusion_matrix"]["rows_true_cols_pred"],
                f"{kind}: confusion matrix"), f"confusion {kind}"))
        f, i = acc["float"], acc.get("int8") or {}
        rows = [[c, v["support"], v["recall"], (i.get("per_class", {}).get(c) or {}).get("recall")]
                for c, v in f["per_class"].items()]
        items.insert(0, Table(["class", "support", "float recall", "INT8 recall"], rows))
    return Section("Accuracy", accuracy_paragraphs(a), items)


def deployment_rows(a: ReportInputs, cfg: DeploymentConfig) -> list[list[str]]:
    d = deployment(a, cfg)
    return [[k.replace("_", " "), f"{v:,.4g}" if isinstance(v, float) and not isinstance(v, bool) else
             ("yes" if v else "no") if isinstance(v, bool) else str(v)] for k, v in asdict(d).items()]


def _baseline_section(a: ReportInputs, cfg: DeploymentConfig) -> Section:
    b = a.baselines
    rows = [[m["name"], m["clock_mhz"], m["cycles_per_mac"], f"{m['latency_ms']:.0f}", f"{m['energy_mj']:.1f}",
             m["weights_fit_flash"], m["activations_fit_sram"], m["source"]] for m in b["mcus"]]
    items: list[Table | Image] = [Table(["MCU (modelled)", "MHz", "cycles/MAC", "ms", "mJ", "weights fit flash",
                                         "activations fit SRAM", "source"], rows)]
    if b.get("host"):
        h = b["host"]
        items.append(Table(["host (measured)", "ms per image", "note"], [[h["engine"], f"{h['timing_ms_median']:.1f}", h["note"]]]))
    d = deployment(a, cfg)
    items.append(Table(["deployment (modelled)", "value"], deployment_rows(a, cfg),
                       f"{cfg.battery_name}: {cfg.battery_mah:g} mAh at {cfg.battery_v:g} V, rated "
                       f"{cfg.battery_max_ma:g} mA; {cfg.inferences_per_hour:g} inferences/h"))
    return Section("Baselines and deployment", [
        "MCU figures are modelled (compute only, optimistic); the host figure is measured on this machine and is "
        "context, not a target.", f"Battery: {battery_sentence(d, cfg)}."], items)


def _claims_section(a: ReportInputs, cfg: DeploymentConfig) -> Section:
    rows = [[r.item, r.claimed, r.this_run, r.claimed_macro, r.how] for r in claim_rows(a, cfg)]
    checks = [[c.claim, c.implied, c.verdict] for c in check_claims(ctx=run_context(a))]
    return Section("The write-up's claims vs this run", [
        f"'this run' = {a.analysis['model']} at {a.analysis['resolution']} px on {a.simulation['hw']}; 'claimed macro' = "
        "the same schedule priced with the write-up's SRAM figures (sky130-design1-claimed). 'modelled' figures come "
        "from the cost model and the hardware description; 'measured' ones were observed in this run."],
        [Table(CLAIM_HEADERS, rows),
         Table(["claim", "what it implies", "verdict"], checks, "the write-up's arithmetic, checked")])


def _advice_section(a: ReportInputs, out: Path, files: list[Path]) -> Section | None:
    w = a.advice
    if w is None:
        return None
    img = _plot(out, files, "what_it_would_take", plots.labelled_scatter(
        advice.plot_points(a, w), "silicon area (mm2, estimate)", "energy per inference (mJ, modelled)",
        "design1 and the designs the search reports", advice.plot_lines(w)), "energy vs area of the designs")
    items: list[Table | Image] = [Table(advice.DESIGN_HEADERS, advice.design_rows(a, w),
                                        "design1 (this run) beside the designs of the search")]
    if w.bounds:
        items.append(Table(advice.BOUND_HEADERS, advice.bound_rows(w), "targets no searched design meets"))
    items.append(img)
    return Section(advice.SECTION_TITLE, advice.advice_paragraphs(a, w), items,
                   (Table(advice.RERUN_HEADERS, advice.rerun_rows(w), "how to re-simulate each design"),))


def build_reports(a: ReportInputs, cfg: DeploymentConfig, out: Path, files: list[Path]) -> dict[str, Any]:
    sim = a.simulation
    t = sim["total"]
    sections = [s for s in (
        _claims_section(a, cfg), _advice_section(a, out, files), _hardware_section(a), _model_section(a, out, files),
        _quant_section(a, out, files), _mapping_section(a, out, files), _perf_section(a, out, files),
        _functional_section(a), _accuracy_section(a, out, files), _baseline_section(a, cfg)) if s is not None]
    kpis = [("latency (modelled)", f"{t['time_ms']:,.1f} ms"), ("energy / inference", f"{t['energy_uj'] / 1e3:.2f} mJ"),
            ("average power", f"{t['avg_power_mw']:.1f} mW"),
            ("off-chip traffic", f"{sum(t['offchip_bytes'].values()) / 1e6:.1f} MB"),
            ("vs lower bound", f"{t['ratio_to_lower_bound']:.2f}x")]
    if a.accuracy:
        kpis.append(("INT8 accuracy (measured)",
                     f"{100 * (a.accuracy.get('int8') or a.accuracy['float'])['accuracy']:.1f}%"))
    elif a.checkpoint:
        kpis.append(("INT8 accuracy (on file)", f"{100 * a.checkpoint.int8_accuracy:.1f}%"))
    page = render_page(f"sramflow: {a.analysis['model']} on {sim['hw']}", kpis, sections,
                       "Generated by sramflow. Every energy and timing constant is listed with its provenance; "
                       "figures marked scaled or assumed are estimates.", notes=a.notes)
    files.append(write_text_atomic(out / "report.html", page))
    md = summary_markdown(a, cfg)
    files.append(write_text_atomic(out / "INTEGRATION_SUMMARY.md", md))
    return {"latency_ms": t["time_ms"], "energy_mj": t["energy_uj"] / 1e3, "avg_power_mw": t["avg_power_mw"],
            "offchip_mb": sum(t["offchip_bytes"].values()) / 1e6, "report": str(out / "report.html"),
            "what_it_would_take": advice.advice_paragraphs(a, a.advice)[0] if a.advice else None}
