"""INTEGRATION_SUMMARY.md: the run in one page of Markdown, the same rows as the HTML report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sramflow.eval.bootstrap import interval_sentence
from sramflow.report.claims import check_claims
from sramflow.report.deployment import DeploymentConfig
from sramflow.report.facts import claim_rows, deployment


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def cell(v: object) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def summary_markdown(a: dict[str, Any], cfg: DeploymentConfig) -> str:
    m, q, sim = a["analysis"], a["quantization"], a["simulation"]
    t = sim["total"]
    v = a["verify"]
    parts = [
        f"# sramflow integration summary: {m['model']} on {sim['hw']}",
        "",
        f"Model: {m['model']} ({m['source']}), {m['resolution']}x{m['resolution']}, {m['num_classes']} classes, "
        f"{m['total_params']:,} parameters, {m['conv_gemm_macs']:,} Conv/Gemm MACs, peak INT8 activations "
        f"{m['peak_activation_bytes_int8']:,} B ({m['peak_activation_bytes_int8_fused']:,} B with SiLU fused in place).",
        "",
        f"Quantization: {q['method']}, calibration: {q['calibration']}. LiteRT BUILTIN_REF check: "
        f"{v['tensors_compared']} tensors compared, {v['tensors_mismatched']} mismatched.",
        "",
        f"Hardware: {sim['hw_description']}",
        "",
        "## Measured here",
        "",
        _table(["quantity", "value"], [
            ["latency per inference", f"{t['time_ms']:.2f} ms ({t['cycles']:,} cycles at {sim['clock_mhz']:g} MHz)"],
            ["energy per inference", f"{t['energy_uj'] / 1e3:.3f} mJ"],
            ["average power", f"{t['avg_power_mw']:.2f} mW"],
            ["energy by component (uJ)", ", ".join(f"{k} {v:.1f}" for k, v in t["energy_uj_by_component"].items())],
            ["off-chip bytes by operand", ", ".join(f"{k} {v:,}" for k, v in t["offchip_bytes"].items())],
            ["SRAM reads / writes", f"{t['sram_reads']:,} / {t['sram_writes']:,}"],
            ["sum of per-layer lower bounds", f"{t['lower_bound_cycles']:,} cycles (ratio {t['ratio_to_lower_bound']:.2f})"],
            ["uncosted nodes", str(len(sim["uncosted_nodes"]))],
        ]),
        "",
        "## The write-up's claims vs measured",
        "",
        _table(["item", "write-up", "measured here", "claimed macro", "how"],
               [[r.item, r.claimed, r.measured, r.claimed_macro, r.note] for r in claim_rows(a, cfg, a["idle_power_uw"])]),
        "",
        _table(["claim", "what it implies", "verdict"], [[c.claim, c.implied, c.verdict] for c in check_claims()]),
        "",
    ]
    f = a.get("functional")
    if f:
        parts += ["## Functional simulation", "",
                  f"bit_exact {f.get('bit_exact')}, tensors compared {f.get('tensors_compared')}, counts_match "
                  f"{f.get('counts_match')}, clobbers {f.get('clobbers')}.", ""]
    acc = a.get("accuracy")
    if acc:
        fl, i8 = acc["float"], acc.get("int8") or {}
        parts += ["## Accuracy", "", _table(["", "float", "INT8"], [
            ["accuracy", f"{fl['accuracy']:.4f}", i8.get("accuracy")],
            ["balanced accuracy", f"{fl['balanced_accuracy']:.4f}", i8.get("balanced_accuracy")],
            ["melanoma sensitivity", fl.get("mel_sensitivity"), i8.get("mel_sensitivity")],
        ]), "", f"{acc['n_images']} images: {acc['data']}. {interval_sentence(acc.get('confidence_intervals'))}", ""]
        if acc.get("resolution_warning"):
            parts += [f"**Note:** {acc['resolution_warning']}.", ""]
    b = a["baselines"]
    parts += ["## Baselines", "", _table(["platform", "latency ms", "energy mJ", "fits?", "how"], [
        [x["name"], f"{x['latency_ms']:.0f}", f"{x['energy_mj']:.1f}",
         "yes" if x["weights_fit_flash"] and x["activations_fit_sram"] else "no", "modelled"] for x in b["mcus"]]
        + ([[b["host"]["engine"], f"{b['host']['timing_ms_median']:.1f}", "-", "-", "measured on this host (context)"]]
           if b.get("host") else [])), ""]
    d = deployment(sim, cfg, a["idle_power_uw"])
    parts += ["## Deployment", "",
              f"At most {d.max_inferences_per_s:.3g} inferences/s; {d.energy_per_inference_mj:.3f} mJ each; at "
              f"{cfg.inferences_per_hour:g} inferences/h the average power is {d.average_power_uw:,.1f} uW and a "
              f"{cfg.battery_mah:g} mAh {cfg.battery_v:g} V battery lasts {d.battery_life_days:,.1f} days.", ""]
    return "\n".join(parts)
