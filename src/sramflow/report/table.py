"""Plain-text tables for the terminal (no dependency, stable output)."""

from __future__ import annotations

from collections.abc import Sequence


def fmt_int(x: int | float | None) -> str:
    return "-" if x is None else f"{int(x):,}"


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str | None = None) -> str:
    """``align``: one char per column, 'l' or 'r' (default: first column left, the rest right)."""
    align = align or "l" + "r" * (len(headers) - 1)
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) if a == "l" else str(c).rjust(w) for c, w, a in zip(cells, widths, align))

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), sep, *(line(r) for r in rows)])


def analysis_table(report: dict) -> str:
    rows = [
        [n["name"], n["op"], "x".join(map(str, n["output_shape"])), fmt_int(n["params"]), fmt_int(n["macs"]),
         fmt_int(n["input_bytes_int8"]), fmt_int(n["output_bytes_int8"]), fmt_int(n["weight_bytes_int8"])]
        for n in report["nodes"]
    ]
    table = render_table(["node", "op", "output", "params", "MACs", "in B", "out B", "w B (int8)"], rows, "llrrrrrr")
    layout = report.get("checkpoint_layout")
    source = f"{report['source']}; {layout_phrase(layout)}" if layout else report["source"]
    summary = [
        f"model {report['model']} ({source}), {report['resolution']}x{report['resolution']}, "
        f"{report['num_classes']} classes, {len(report['nodes'])} IR nodes",
        f"parameters: {fmt_int(report['total_params'])} (after BN folding {fmt_int(report['folded_params'])}); "
        f"state dict: {fmt_int(report['state_dict_entries'])} entries, {fmt_int(report['state_dict_numel'])} numbers",
        f"Conv/Gemm MACs: {fmt_int(report['conv_gemm_macs'])}",
        f"model size: float32 {fmt_int(report['float32_bytes'])} B, int8 {fmt_int(report['int8_bytes'])} B",
        f"peak live activations (int8, sequential): {fmt_int(report['peak_activation_bytes_int8'])} B "
        f"at {report['peak_activation_node']}; with SiLU fused in place "
        f"{fmt_int(report['peak_activation_bytes_int8_fused'])} B at {report['peak_activation_node_fused']}",
        f"weight tensors fitting {report['sram_bytes']} B at int8: "
        f"{report['weight_tensors_fitting_bytes']} of {report['weight_tensors_total']}",
    ]
    return table + "\n\n" + "\n".join(summary)


def layout_phrase(layout: str) -> str:
    """'efficientnet_pytorch layout, TensorFlow SAME padding': what a checkpoint's key names told us."""
    from sramflow.models.layouts import LAYOUT_PADDING

    pad = {"tf_same": "TensorFlow SAME padding", "symmetric": "symmetric padding"}[LAYOUT_PADDING[layout]]
    return f"{layout} layout, {pad}"
