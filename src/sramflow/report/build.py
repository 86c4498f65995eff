"""INTEGRATION_SUMMARY.md, report.html and the plots, from the JSON artifacts of one run."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from sramflow.eval.bootstrap import interval_sentence
from sramflow.jsonio import write_bytes_atomic, write_text_atomic
from sramflow.report import plots
from sramflow.report.claims import check_claims
from sramflow.report.deployment import DeploymentConfig
from sramflow.report.facts import claim_rows, deployment
from sramflow.report.html import Image, Section, Table, render_page
from sramflow.report.markdown import summary_markdown

RESOURCES = ("offchip", "sram_port", "mac", "vector")


def _plot(out: Path, files: list[Path], name: str, png: bytes, alt: str) -> Image:
    files.append(write_bytes_atomic(out / "plots" / f"{name}.png", png))
    return Image(png, alt)


def _model_section(a: dict[str, Any], out: Path, files: list[Path]) -> Section:
    m = a["analysis"]
    nodes = m["nodes"]
    rows = [["parameters", m["total_params"]], ["Conv/Gemm MACs", m["conv_gemm_macs"]],
            ["graph nodes (after BN folding)", len(nodes)], ["float32 bytes", m["float32_bytes"]],
            ["INT8 bytes (int8 weights + int32 biases)", m["int8_bytes"]],
            ["peak live activations, INT8, as TFLite runs it", m["peak_activation_bytes_int8"]],
            ["peak live activations, INT8, SiLU fused in place", m["peak_activation_bytes_int8_fused"]],
            [f"weight tensors fitting {m['sram_bytes']} B", f"{m['weight_tensors_fitting_bytes']} of {m['weight_tensors_total']}"]]
    img = _plot(out, files, "activations_per_layer", plots.bars_by_category(
        [n["output_bytes_int8"] for n in nodes], [n["op"] for n in nodes], "bytes (INT8)",
        "Output activation size per layer"), "activation bytes per layer")
    return Section("Model", [f"{m['model']} from {m['source']}, {m['resolution']}x{m['resolution']}, "
                             f"{m['num_classes']} classes."], [Table(["quantity", "value"], rows), img])


def _quant_section(a: dict[str, Any], out: Path, files: list[Path]) -> Section:
    q, v = a["quantization"], a["verify"]
    layers = [x for x in q["layers"] if x.get("sqnr_db") is not None]
    img = _plot(out, files, "sqnr_per_layer", plots.line_per_layer(
        [x["sqnr_db"] for x in layers], "SQNR (dB)", "INT8 vs float, output SQNR per quantized op"), "per-layer SQNR")
    t = q["totals"]
    e2e = q["end_to_end"]
    rows = [["calibration", q["calibration"]], ["method", q["method"]],
            ["float32 weight bytes", t["float32_weight_bytes"]], ["int8 total bytes", t["int8_total_bytes"]],
            ["compression", f"{t['compression_ratio']}:1"],
            ["float vs INT8 top-1 agreement (calibration inputs)", f"{e2e['top1_agreement']:.3f}"],
            ["logit SQNR", f"{e2e['logit_sqnr_db']:.1f} dB"],
            ["LiteRT BUILTIN_REF tensors compared / mismatched",
             f"{v['tensors_compared']} / {v['tensors_mismatched']} (max |diff| {v['max_abs_diff']})"]]
    notes = [q["spec"]] + ([f"SQNR and agreement measured on {q['sqnr_inputs']}."] if q.get("sqnr_inputs") else [])
    return Section("Quantization (TFLite int8 spec)", notes, [Table(["", ""], rows), img])


def _sram_section(a: dict[str, Any]) -> Section:
    s = a["sram"]
    rows = []
    for m in s["sram"]:
        rows.append([m["name"], "organization", m["organization"], f"{m['ports']}, {m['size_bytes']} B", ""])
        for k in ("read_energy_pj", "write_energy_pj", "idle_energy_pj_per_cycle", "leakage_uw", "clk_to_q_ns",
                  "min_period_ns", "area_um2"):
            item = m[k]
            rows.append([m["name"], k, f"{item['value']:g} {item['unit']}", item["source"]["kind"], item["source"]["ref"][:300]])
    return Section("SRAM macro and hardware", [s["description"]],
                   [Table(["macro", "field", "value", "provenance", "source"], rows)])


def _mapping_section(a: dict[str, Any], out: Path, files: list[Path]) -> Section:
    mp = a["mapping"]
    words = mp["sram"]["words"]
    layers = mp["layers"]
    img = _plot(out, files, "sram_occupancy", plots.line_per_layer(
        [100.0 * x["words_used"] / words for x in layers], "% of SRAM words", "SRAM occupancy per layer",
        hline=100.0), "SRAM occupancy")
    swaps = _plot(out, files, "swaps_per_layer", plots.bars_by_category(
        [max(x["swaps"], 1) for x in layers], [x["op"] for x in layers], "DMA loads (swaps)", "SRAM refills per layer"),
        "swaps per layer")
    rows = [[x["name"], x["op"], " ".join(f"{k}={v}" for k, v in x["tile_sizes"].items()), "/".join(x["loop_order"]),
             x["partial_sums"], x["swaps"], x["words_used"], x["fits_without_tiling"]] for x in layers]
    tiled = sum(1 for x in layers if not x["fits_without_tiling"])
    return Section("Mapping onto the SRAM", [f"{tiled} of {len(layers)} layers need tiling; objective {mp['objective']}."],
                   [img, swaps], (Table(["layer", "op", "tile", "loop order", "partial sums", "swaps", "words used",
                                         "fits whole"], rows, "per-layer tiling (click to open)"),))


def _perf_section(a: dict[str, Any], out: Path, files: list[Path]) -> Section:
    sim = a["simulation"]
    nodes, t = sim["nodes"], sim["total"]
    lat = _plot(out, files, "latency_per_layer", plots.bars_by_category(
        [n["cycles"] for n in nodes], [n["binding_resource"] for n in nodes], "cycles",
        "Latency per layer, coloured by the binding resource"), "latency per layer")
    busy = _plot(out, files, "busy_cycles_per_layer", plots.stacked_bars(
        {r: [n["busy_cycles"].get(r, 0) for n in nodes] for r in RESOURCES}, "busy cycles",
        "Busy cycles per resource and layer (resources overlap where double-buffered)", log=False), "busy cycles")
    energy = _plot(out, files, "energy_by_component", plots.horizontal_bars(
        {k: v for k, v in t["energy_uj_by_component"].items()}, "uJ per inference", "Energy by component"), "energy")
    traffic = _plot(out, files, "offchip_traffic", plots.horizontal_bars(
        {k: v / 1e3 for k, v in t["offchip_bytes"].items()}, "kB per inference", "Off-chip traffic by operand"), "traffic")
    bound = _plot(out, files, "distance_to_lower_bound", plots.line_per_layer(
        [n["ratio_to_lower_bound"] for n in nodes], "cycles / lower bound", "Distance to the per-layer lower bound",
        log=True, hline=1.0), "lower bound ratio")
    rows = [["cycles", t["cycles"]], ["latency", f"{t['time_ms']:.2f} ms"], ["energy", f"{t['energy_uj'] / 1e3:.3f} mJ"],
            ["average power", f"{t['avg_power_mw']:.2f} mW"], ["MACs", t["macs"]],
            ["SRAM reads / writes", f"{t['sram_reads']:,} / {t['sram_writes']:,}"],
            ["off-chip bytes", f"{sum(t['offchip_bytes'].values()):,}"],
            ["lower bound cycles (sum)", t["lower_bound_cycles"]], ["ratio to lower bound", f"{t['ratio_to_lower_bound']:.2f}"],
            ["binding resource (layers)", ", ".join(f"{k} {v}" for k, v in t["binding_resource_counts"].items())],
            ["uncosted nodes", len(sim["uncosted_nodes"])]]
    return Section(f"Latency, energy and power on {sim['hw']}", [
        "Analytical simulation: counts from the schedule, cycles from the binding resource of each layer, energy = "
        "counts x per-access energies of the hardware description + leakage x time. Energies are estimates with "
        "the provenance listed above."], [Table(["", ""], rows), lat, busy, energy, traffic, bound])


def _accuracy_section(a: dict[str, Any], out: Path, files: list[Path]) -> Section | None:
    acc = a.get("accuracy")
    if not acc:
        return None
    items: list[Table | Image] = []
    for kind in ("float", "int8"):
        m = acc.get(kind)
        if not m:
            continue
        items.append(_plot(out, files, f"confusion_{kind}", plots.confusion_matrix(
            m["confusion_matrix"]["counts"], m["confusion_matrix"]["rows_true_cols_pred"], f"{kind}: confusion matrix"),
            f"confusion {kind}"))
    f, i = acc["float"], acc.get("int8") or {}
    rows = [[c, v["support"], v["recall"], (i.get("per_class", {}).get(c) or {}).get("recall")] for c, v in f["per_class"].items()]
    items.insert(0, Table(["class", "support", "float recall", "INT8 recall"], rows))
    warn = [acc["resolution_warning"]] if acc.get("resolution_warning") else []
    return Section("Accuracy", warn + [f"{acc['n_images']} images ({acc['data']}). Float accuracy {f['accuracy']:.4f}, "
                                f"balanced {f['balanced_accuracy']:.4f}; INT8 accuracy {i.get('accuracy')}, balanced "
                                f"{i.get('balanced_accuracy')}; agreement {acc.get('top1_agreement_float_vs_int8')}.",
                                interval_sentence(acc.get("confidence_intervals"))], items)


def _baseline_section(a: dict[str, Any], cfg: DeploymentConfig) -> Section:
    b = a["baselines"]
    rows = [[m["name"], m["clock_mhz"], m["cycles_per_mac"], f"{m['latency_ms']:.0f}", f"{m['energy_mj']:.1f}",
             m["weights_fit_flash"], m["activations_fit_sram"], m["source"]] for m in b["mcus"]]
    items: list[Table | Image] = [Table(["MCU (modelled)", "MHz", "cycles/MAC", "ms", "mJ", "weights fit flash",
                                         "activations fit SRAM", "source"], rows)]
    if b.get("host"):
        h = b["host"]
        items.append(Table(["host (measured)", "ms per image", "note"], [[h["engine"], f"{h['timing_ms_median']:.1f}", h["note"]]]))
    d = deployment(a["simulation"], cfg, a["idle_power_uw"])
    items.append(Table(["deployment", "value"], [[k, f"{v:,.4g}"] for k, v in asdict(d).items()],
                       f"battery {cfg.battery_mah} mAh at {cfg.battery_v} V, {cfg.inferences_per_hour:g} inferences/h"))
    return Section("Baselines and deployment", ["MCU figures are modelled (compute only, optimistic); the host "
                                                "figure is measured on this machine and is context, not a target."], items)


def _claims_section(a: dict[str, Any], cfg: DeploymentConfig) -> Section:
    rows = [[r.item, r.claimed, r.measured, r.claimed_macro, r.note] for r in claim_rows(a, cfg, a["idle_power_uw"])]
    checks = [[c.claim, c.implied, c.verdict] for c in check_claims()]
    return Section("The write-up's claims vs measured here", [
        f"'measured' = this run on {a['simulation']['hw']}; 'claimed macro' = the same schedule priced with the "
        "write-up's SRAM figures (sky130-design1-claimed)."],
        [Table(["item", "write-up", "measured here", "claimed macro", "how"], rows),
         Table(["claim", "what it implies", "verdict"], checks, "the write-up's arithmetic, checked")])


def _functional_section(a: dict[str, Any]) -> Section | None:
    f = a.get("functional")
    if not f:
        return None
    keys = ("bit_exact", "tensors_compared", "mismatches", "counts_match", "clobbers", "predicted_class", "wall_s")
    return Section("Functional simulation", ["The schedule executed on real INT8 bytes through a model of the SRAM."],
                   [Table(["", ""], [[k, str(f.get(k))] for k in keys])])


def build_reports(a: dict[str, Any], cfg: DeploymentConfig, out: Path, files: list[Path]) -> dict[str, Any]:
    sim = a["simulation"]
    t = sim["total"]
    sections = [s for s in (
        _claims_section(a, cfg), _model_section(a, out, files), _quant_section(a, out, files), _sram_section(a),
        _mapping_section(a, out, files), _perf_section(a, out, files), _functional_section(a),
        _accuracy_section(a, out, files), _baseline_section(a, cfg)) if s is not None]
    kpis = [("latency", f"{t['time_ms']:.1f} ms"), ("energy / inference", f"{t['energy_uj'] / 1e3:.2f} mJ"),
            ("average power", f"{t['avg_power_mw']:.1f} mW"),
            ("off-chip traffic", f"{sum(t['offchip_bytes'].values()) / 1e6:.1f} MB"),
            ("vs lower bound", f"{t['ratio_to_lower_bound']:.2f}x")]
    if a.get("accuracy"):
        kpis.append(("INT8 accuracy", f"{100 * (a['accuracy'].get('int8') or a['accuracy']['float'])['accuracy']:.1f}%"))
    page = render_page(f"sramflow: {a['analysis']['model']} on {sim['hw']}", kpis, sections,
                       "Generated by sramflow. Every energy and timing constant is listed with its provenance; "
                       "figures marked scaled or assumed are estimates.")
    files.append(write_text_atomic(out / "report.html", page))
    md = summary_markdown(a, cfg)
    files.append(write_text_atomic(out / "INTEGRATION_SUMMARY.md", md))
    return {"latency_ms": t["time_ms"], "energy_mj": t["energy_uj"] / 1e3, "avg_power_mw": t["avg_power_mw"],
            "offchip_mb": sum(t["offchip_bytes"].values()) / 1e6, "report": str(out / "report.html")}
