"""Rows and paragraphs that both the HTML report (``report.build``) and INTEGRATION_SUMMARY.md
(``report.markdown``) print, so the two say the same thing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sramflow.eval.bootstrap import interval_sentence
from sramflow.report.inputs import ReportInputs


def quant_rows(a: ReportInputs) -> list[list[str]]:
    """The quantization rows; agreement and SQNR say in the row what inputs they were measured on."""
    q, v = a.quantization, a.verify
    t, e2e = q["totals"], q["end_to_end"]
    sq = e2e["logit_sqnr_db"]
    return [["calibration", q["calibration"]], ["method", q["method"]],
            ["float32 weight bytes", f"{t['float32_weight_bytes']:,}"], ["int8 total bytes", f"{t['int8_total_bytes']:,}"],
            ["compression", f"{t['compression_ratio']}:1"],
            [f"float vs INT8 top-1 agreement, on {a.sample_label}", f"{e2e['top1_agreement']:.3f}"],
            [f"logit SQNR, on {a.sample_label}", "exact" if sq is None else f"{sq:.1f} dB"],
            ["LiteRT BUILTIN_REF tensors compared / mismatched",
             f"{v['tensors_compared']} / {v['tensors_mismatched']} (max |diff| {v['max_abs_diff']})"]]


def perf_rows(a: ReportInputs) -> list[list[Any]]:
    sim = a.simulation
    t = sim["total"]
    return [["cycles", t["cycles"]], ["latency", f"{t['time_ms']:.2f} ms"], ["energy", f"{t['energy_uj'] / 1e3:.3f} mJ"],
            ["average power", f"{t['avg_power_mw']:.2f} mW"], ["MACs", t["macs"]],
            ["SRAM reads / writes", f"{t['sram_reads']:,} / {t['sram_writes']:,}"],
            ["off-chip bytes", f"{sum(t['offchip_bytes'].values()):,}"],
            ["energy by component (uJ)", ", ".join(f"{k} {v:,.1f}" for k, v in t["energy_uj_by_component"].items())],
            ["lower bound cycles (sum)", t["lower_bound_cycles"]], ["ratio to lower bound", f"{t['ratio_to_lower_bound']:.2f}"],
            *first_load_rows(sim),
            ["off-chip bytes lower bound (sum per layer of max(compulsory, I/O bound); docs/io_lower_bound.md)",
             f"{t['offchip_lower_bound_bytes']:,} (traffic / bound {t['ratio_to_offchip_lower_bound']:.2f})"],
            ["Conv/Gemm off-chip bytes / their lower bound",
             f"{t['conv_gemm_offchip_bytes']:,} / {t['conv_gemm_offchip_lower_bound_bytes']:,}"],
            ["binding resource (layers)", ", ".join(f"{k} {v}" for k, v in t["binding_resource_counts"].items())],
            ["uncosted nodes", len(sim["uncosted_nodes"])]]


def first_load_rows(sim: dict[str, Any]) -> list[list[Any]]:
    """The first loads the overlapped cycle model leaves out of the latency (absent from reports written before
    they were counted)."""
    fl = sim.get("first_load_cycles")
    if fl is None:
        return []
    pct = 100 * fl / max(sim["total"]["cycles"], 1)
    return [["first loads not overlapped with compute (the latency is optimistic by at most this; sim.first_loads)",
             f"{fl:,} cycles ({pct:.2g} %)"]]


def functional_rows(f: dict[str, Any]) -> list[list[str]]:
    mism = f.get("mismatches") or {}
    count = mism.get("count", 0) if isinstance(mism, dict) else len(mism)
    return [["input", str(f.get("input"))], ["bit-exact with the integer reference", "yes" if f.get("bit_exact") else "no"],
            ["tensors compared", str(f.get("tensors_compared"))], ["mismatched tensors", str(count)],
            ["counts equal to the analytical model", "yes" if f.get("counts_match") else "no"],
            ["clobbers (live data overwritten)", str(f.get("clobbers"))],
            ["predicted class", str(f.get("predicted_class"))], ["wall time", f"{f.get('wall_s', 0):.1f} s"]]


def accuracy_paragraphs(a: ReportInputs) -> list[str]:
    acc = a.accuracy
    if acc:
        f, i = acc["float"], acc.get("int8") or {}
        warn = [acc["resolution_warning"]] if acc.get("resolution_warning") else []
        return warn + [f"Measured by this run: {acc['n_images']} images ({acc['data']}). Float accuracy "
                       f"{f['accuracy']:.4f}, balanced {f['balanced_accuracy']:.4f}; INT8 accuracy {i.get('accuracy')}, "
                       f"balanced {i.get('balanced_accuracy')}; agreement {acc.get('top1_agreement_float_vs_int8')}.",
                       interval_sentence(acc.get("confidence_intervals")), *tta_sentences(a)]
    ck = a.checkpoint
    claim = "The write-up claims 88.75 % float and 88.73 % INT8 accuracy."
    if ck is None:
        return [claim, "No accuracy figures are on file for this model; the run's own accuracy needs --data "
                       "(a HAM10000 folder)."]
    lo, hi = ck.float_interval
    res = f", trained and evaluated at {ck.trained_resolution} px" if ck.trained_resolution else ""
    return [claim, f"The shipped checkpoint's figures on file ({ck.metrics_file}, {ck.split} split, {ck.n_images:,} "
                   f"images{res}): float {100 * ck.float_accuracy:.1f} % (balanced {ck.float_balanced:.3f}; "
                   f"{ck.interval_note}: {100 * lo:.1f}-{100 * hi:.1f} %), INT8 {100 * ck.int8_accuracy:.1f} % "
                   f"(balanced {ck.int8_balanced:.3f})."
                   + (f" Its training recipe, {ck.out_of_fold.text()}." if ck.out_of_fold else ""),
            "This run did not measure accuracy: that needs --data (a HAM10000 folder)."]


def tta_sentences(a: ReportInputs) -> list[str]:
    """With ``run --tta``: the augmented accuracy beside the single pass, and its cost on this run's hardware."""
    t = (a.accuracy or {}).get("tta")
    if not t:
        return []
    k, tot = t["passes"], a.simulation["total"]
    figs = "; ".join(f"{name.replace('_tta', '')} {t[name]['accuracy']:.4f} (balanced {t[name]['balanced_accuracy']:.4f})"
                     for name in ("float_tta", "int8_tta", "mixed_tta") if name in t)
    return [f"Test-time augmentation ({t['mode']}: {', '.join(t['views'])}; output vectors summed): {figs}. It is not "
            f"the single-pass model above: each image costs {k} inferences, {k} x {tot['time_ms']:,.2f} ms = "
            f"{k * tot['time_ms']:,.2f} ms and {k} x {tot['energy_uj'] / 1e3:.3f} mJ = "
            f"{k * tot['energy_uj'] / 1e3:.3f} mJ on this hardware (the add of the output vectors is not simulated)."]


FUSION_HEADERS = ["group (producer)", "op", "fused nodes", "off-chip kB: weights", "inputs", "outputs"]


def fusion_sentence(sim: dict[str, Any]) -> str:
    """What fusion the simulation ran with (``inference_simulator_report.json``: fusion, fusion_groups)."""
    mode = sim.get("fusion", "none")
    if mode == "none":
        return "Fusion: none (every node is its own pass through off-chip memory, except the activations the " \
               "quantizer folds into a Conv's requantize)."
    groups = sim.get("fusion_groups", [])
    fused = sum(len(g["members"]) for g in groups)
    note = f" {sim['fusion_note']}." if sim.get("fusion_note") else ""
    scaled = [g for g in groups if g.get("input_scale")]
    held = sum(1 for g in scaled if g.get("scale_held_in"))
    scales = (f" {len(scaled)} SE scales run on their consumer's input path, {held} of them with the excitation vector "
              "held in an SRAM level for the layer (the others fetch its bytes with every input tile load)."
              if scaled else "")
    pooled = [g for g in groups if g.get("pool")]
    unstored = sum(1 for g in pooled if g.get("output_stored") is False)
    pools = (f" {len(pooled)} global average pools accumulate on their conv's output path"
             + (f"; {unstored} of them {'is its' if unstored == 1 else 'are their'} conv's only reader, so that "
                "conv never stores its output" if unstored else "") + "." if pooled else "")
    return (f"Fusion: {mode}, {len(groups)} groups: {fused} nodes run on a Conv/Gemm's output path "
            f"(or, for an SE scale, its consumer's input path), so their tensors are never written to a memory "
            f"level; per node, a fused node's counts are its group's producer's.{scales}{pools}{note}")


def group_bytes(sim: dict[str, Any], unfused: Mapping[str, int]) -> dict[str, tuple[int, int]]:
    """Per fused group (its producer): the off-chip bytes of its nodes without fusion (``unfused``: per node, the
    same network simulated with ``--fusion none``) and with it (the group's)."""
    return {g["producer"]: (sum(unfused.get(n, 0) for n in (g["producer"], *g["members"])),
                            sum(g["offchip_bytes_by_operand"].values())) for g in sim.get("fusion_groups", [])}


def fusion_rows(sim: dict[str, Any]) -> list[list[Any]]:
    """One row per fused group: its producer, the nodes fused into it and its off-chip bytes by operand."""
    return [[g["producer"], g["op"], ", ".join(g["members"]) + (f" (SE vector held in {g['scale_held_in']})"
                                                                 if g.get("scale_held_in") else "")
             + (" (output never stored: the pool is its only reader)" if g.get("output_stored") is False else ""),
             *(f"{g['offchip_bytes_by_operand'].get(k, 0) / 1e3:,.1f}" for k in ("weights", "inputs", "outputs"))]
            for g in sim.get("fusion_groups", [])]


def budget_text(mp: dict) -> str:
    """How a layer mapping's cycle budget was stated, for a sentence that names its objective ('' without one)."""
    if mp.get("cycle_budget") is None:
        return ""
    if mp.get("cycle_budget_over_fastest_pct") is None:
        return f" within {mp['cycle_budget']:,} cycles"
    return (f" within {mp['cycle_budget']:,} cycles ({mp['cycle_budget_over_fastest_pct']:g} % above the latency "
            f"objective's {mp['fastest_cycles']:,})")
