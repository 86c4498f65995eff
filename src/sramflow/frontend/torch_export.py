"""PyTorch module -> ONNX (in memory) -> the same importer as ONNX files. Built-in models do not take this
path (``frontend.builtin`` builds them without torch); it stays for arbitrary torch modules and as the oracle
``tests/test_builtin_graph.py`` checks the direct builder against."""

from __future__ import annotations

import io
import warnings

import torch

from sramflow.frontend.onnx_import import import_onnx_model
from sramflow.ir.graph import Graph

OPSET = 13


def torch_to_onnx_bytes(model: torch.nn.Module, resolution: int) -> bytes:
    """Export in eval mode; the TorchScript exporter folds BatchNorm into the convolutions."""
    model = model.eval()
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (torch.zeros(1, 3, resolution, resolution),), buf,
            dynamo=False, opset_version=OPSET, do_constant_folding=True,
            input_names=["input"], output_names=["logits"],
            training=torch.onnx.TrainingMode.EVAL,
        )
    return buf.getvalue()


def module_node_name(onnx_name: str) -> str:
    """'/features/features.2/features.2.0/block/block.0/Mul' -> 'features.2.0.block.0/Mul'.

    The exporter writes one scope per module level, each qualified relative to the scope above;
    keep only the innermost qualified name of each run, which is the module's path.
    """
    parts = [p for p in onnx_name.split("/") if p]
    if len(parts) < 2:
        return onnx_name.lstrip("/")
    path: list[str] = []
    for comp in parts[:-1]:
        if path and comp.startswith(path[-1] + "."):
            path[-1] = comp
        else:
            path.append(comp)
    return ".".join(path) + "/" + parts[-1]


def torch_to_graph(model: torch.nn.Module, resolution: int, name: str) -> Graph:
    import onnx

    proto = onnx.load_from_string(torch_to_onnx_bytes(model, resolution))
    names = [module_node_name(n.name) for n in proto.graph.node]
    if len(set(names)) == len(names):
        for n, new in zip(proto.graph.node, names):
            n.name = new
    return import_onnx_model(proto, resolution, name)
