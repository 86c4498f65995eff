"""INTEGRATION_SUMMARY.md: the run in one page of Markdown, the same rows as the HTML report."""

from __future__ import annotations

from collections.abc import Sequence

from sramflow.report import advice
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
from sramflow.report.inputs import ReportInputs
from sramflow.report.rows import (
    FUSION_HEADERS, accuracy_paragraphs, budget_text, functional_rows, fusion_rows, fusion_sentence, perf_rows,
    quant_rows,
)


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def cell(v: object) -> str:
        text = f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _advice_part(a: ReportInputs) -> list[str]:
    w = a.advice
    if w is None:
        return []
    parts = [f"## {advice.SECTION_TITLE}", ""]
    for p in advice.advice_paragraphs(a, w):
        parts += [p, ""]
    parts += [_table(advice.DESIGN_HEADERS, advice.design_rows(a, w)), ""]
    if w.bounds:
        parts += [_table(advice.BOUND_HEADERS, advice.bound_rows(w)), ""]
    parts += [_table(advice.RERUN_HEADERS, [[label, f"`{cmd}`"] for label, cmd in advice.rerun_rows(w)]), ""]
    return parts


def summary_markdown(a: ReportInputs, cfg: DeploymentConfig) -> str:
    m, q, sim = a.analysis, a.quantization, a.simulation
    t = sim["total"]
    v = a.verify
    parts = [f"# sramflow integration summary: {m['model']} on {sim['hw']}", ""]
    parts += [f"**Note:** {n}" for n in a.notes] + ([""] if a.notes else [])
    parts += [
        f"Model: {m['model']} ({m['source']}), {m['resolution']}x{m['resolution']}, {m['num_classes']} classes, "
        f"{m['total_params']:,} parameters, {m['conv_gemm_macs']:,} Conv/Gemm MACs, peak INT8 activations "
        f"{m['peak_activation_bytes_int8']:,} B ({m['peak_activation_bytes_int8_fused']:,} B with SiLU fused in place).",
        "",
        f"Quantization: {q['method']}, calibration: {q['calibration']}. LiteRT BUILTIN_REF check: "
        f"{v['tensors_compared']} tensors compared, {v['tensors_mismatched']} mismatched.",
        "",
        "## Modelled on this hardware",
        "",
        _table(["quantity", "value"], [
            ["latency per inference", f"{t['time_ms']:.2f} ms ({t['cycles']:,} cycles at {sim['clock_mhz']:g} MHz)"],
            *perf_rows(a)[2:],
            ["mapping objective", f"{sim['objective']}{budget_text(sim)}"]]),
        "",
        sensitivity_sentence(a.sensitivity),
        "",
        fusion_sentence(sim),
        "",
        *([_table(FUSION_HEADERS, fusion_rows(sim)), ""] if sim.get("fusion_groups") else []),
        "## The write-up's claims vs this run",
        "",
        _table(["item", "write-up", "this run", "claimed macro", "how"],
               [[r.item, r.claimed, r.this_run, r.claimed_macro, r.how] for r in claim_rows(a, cfg)]),
        "",
        _table(["claim", "what it implies", "verdict"], [[c.claim, c.implied, c.verdict]
                                                         for c in check_claims(ctx=run_context(a))]),
        "",
        *_advice_part(a),
        "## Hardware and where each number comes from",
        "",
        a.sram["description"],
        "",
        _table(HEADERS, hardware_rows(a.sram)),
        "",
    ]
    if a.sensitivity and a.sensitivity.points:
        parts += [_table(SENSITIVITY_HEADERS, sensitivity_rows(a.sensitivity)), ""]
    parts += ["## Quantization", "", _table(["quantity", "value"], quant_rows(a)[2:]), ""]
    if a.functional:
        parts += ["## Functional simulation", "", _table(["check", "result"], functional_rows(dict(a.functional))), ""]
    parts += ["## Accuracy", ""]
    acc = a.accuracy
    if acc:
        fl, i8 = acc["float"], acc.get("int8") or {}
        parts += [_table(["", "float", "INT8"], [
            ["accuracy", f"{fl['accuracy']:.4f}", i8.get("accuracy")],
            ["balanced accuracy", f"{fl['balanced_accuracy']:.4f}", i8.get("balanced_accuracy")],
            ["melanoma sensitivity", fl.get("mel_sensitivity"), i8.get("mel_sensitivity")],
        ]), ""]
    parts += [" ".join(p for p in accuracy_paragraphs(a) if p), ""]
    b = a.baselines
    parts += ["## Baselines", "", _table(["platform", "latency ms", "energy mJ", "fits?", "how"], [
        [x["name"], f"{x['latency_ms']:.0f}", f"{x['energy_mj']:.1f}",
         "yes" if x["weights_fit_flash"] and x["activations_fit_sram"] else "no", "modelled"] for x in b["mcus"]]
        + ([[b["host"]["engine"], f"{b['host']['timing_ms_median']:.1f}", "-", "-", "measured on this host (context)"]]
           if b.get("host") else [])), ""]
    d = deployment(a, cfg)
    parts += ["## Deployment", "",
              f"At most {d.max_inferences_per_s:.3g} inferences/s; {d.energy_per_inference_mj:.3f} mJ each; at "
              f"{cfg.inferences_per_hour:g} inferences/h the average power is {d.average_power_uw:,.1f} uW and a "
              f"{cfg.battery_mah:g} mAh {cfg.battery_v:g} V {cfg.battery_name} would last {d.battery_life_days:,.1f} "
              f"days if it could deliver the current: {battery_sentence(d, cfg)}.", ""]
    return "\n".join(parts)
