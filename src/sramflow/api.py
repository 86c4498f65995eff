"""Python API mirroring the CLI subcommands; each returns a typed result. The CLI only calls this."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sramflow.frontend.source import LoadedGraph, ModelSource, load_graph
from sramflow.jsonio import write_json_atomic

DEFAULT_SRAM_BYTES = 256  # design1: 16-bit x 128 words


@dataclass(frozen=True)
class ModelAnalysis:
    loaded: LoadedGraph
    report: dict[str, Any]  # the content of model_analysis.json

    @property
    def graph(self):  # noqa: ANN201 - convenience
        return self.loaded.graph


def analysis_report(loaded: LoadedGraph, sram_bytes: int = DEFAULT_SRAM_BYTES) -> dict[str, Any]:
    from sramflow.ir.analysis import (
        float32_bytes, int8_model_bytes, ir_params, node_stats, op_totals, peak_activation, weight_tensors_fitting,
    )

    g = loaded.graph
    stats = [node_stats(g, n) for n in g.nodes]
    ops, counts = op_totals(stats)
    peak = peak_activation(g)
    fused = peak_activation(g, fuse_elementwise=True)
    fitting, n_weights = weight_tensors_fitting(g, sram_bytes)
    folded_params = ir_params(g)
    return {
        "model": loaded.model,
        "source": loaded.source,
        "checkpoint_layout": loaded.checkpoint_layout,
        "resolution": loaded.resolution,
        "num_classes": loaded.num_classes,
        "total_params": loaded.torch_params if loaded.torch_params is not None else folded_params,
        "folded_params": folded_params,
        "state_dict_numel": loaded.state_dict_numel,
        "state_dict_entries": loaded.state_dict_entries,
        "conv_gemm_macs": sum(s.macs for s in stats),
        "total_ops": ops,
        "node_counts": counts,
        "float32_bytes": float32_bytes(g),
        "int8_bytes": int8_model_bytes(stats),
        "int8_bytes_note": "int8 weights + int32 biases (TFLite int8 spec), after BatchNorm folding",
        "peak_activation_bytes_int8": peak.bytes_int8,
        "peak_activation_node": peak.at_node,
        "peak_activation_note": "sequential schedule in graph order; SiLU is Sigmoid then Mul, as TFLite runs it",
        "peak_activation_bytes_int8_fused": fused.bytes_int8,
        "peak_activation_node_fused": fused.at_node,
        "peak_activation_fused_note": "SiLU as one step and element-wise activations in place over a dying input",
        "sram_bytes": sram_bytes,
        "weight_tensors_fitting_bytes": fitting,
        "weight_tensors_total": n_weights,
        "unsupported_nodes": [],
        "folded_nodes": [asdict(f) for f in g.folded],
        "nodes": [
            {
                "name": s.name, "op": s.op, "output_shape": list(s.output_shape), "params": s.params,
                "macs": s.macs, "ops": s.ops, "input_bytes_int8": s.input_bytes_int8,
                "output_bytes_int8": s.output_bytes_int8, "weight_bytes_int8": s.weight_bytes_int8,
                "bias_bytes_int32": s.bias_bytes_int32,
            }
            for s in stats
        ],
    }


def analyze(src: ModelSource, out_dir: str | Path | None = None, sram_bytes: int = DEFAULT_SRAM_BYTES) -> ModelAnalysis:
    loaded = load_graph(src)
    report = analysis_report(loaded, sram_bytes)
    if out_dir is not None:
        write_json_atomic(Path(out_dir) / "model_analysis.json", report)
    return ModelAnalysis(loaded, report)
