"""Where a graph comes from: a built-in model (random or checkpoint weights) or an ONNX file.

Every subcommand resolves its model arguments through ``load_graph``: one path into the IR.
"""

from __future__ import annotations

from dataclasses import dataclass

from sramflow.errors import SramflowError
from sramflow.ir.graph import Graph

DEFAULT_MODEL = "efficientnet_b0"
DEFAULT_NUM_CLASSES = 7
DEFAULT_RESOLUTION = 224


@dataclass(frozen=True)
class ModelSource:
    model: str | None = None
    num_classes: int | None = None
    resolution: int | None = None
    checkpoint: str | None = None
    onnx: str | None = None
    trust_checkpoint: bool = False
    seed: int = 0


@dataclass(frozen=True)
class LoadedGraph:
    graph: Graph
    model: str
    num_classes: int
    resolution: int
    source: str  # "random weights (seed 0)", a checkpoint path, or an ONNX path
    torch_params: int | None  # trainable parameters before BN folding (None for ONNX)
    state_dict_entries: int | None
    state_dict_numel: int | None
    checkpoint_layout: str | None


def load_graph(src: ModelSource) -> LoadedGraph:
    if src.onnx and src.checkpoint:
        raise SramflowError("give either --onnx or --checkpoint, not both")
    if src.resolution is not None and src.resolution < 8:
        raise SramflowError(f"--resolution must be at least 8 pixels, got {src.resolution}")
    if src.onnx:
        from sramflow.frontend.onnx_import import import_onnx

        g = import_onnx(src.onnx, src.resolution)
        shape_out = g.shape(g.output)
        return LoadedGraph(g, src.model or g.name, int(shape_out[-1]), g.shape(g.input)[2], src.onnx,
                           None, None, None, None)
    from sramflow.frontend.torch_export import torch_to_graph
    from sramflow.models.arch import get_arch

    if src.checkpoint:
        from sramflow.models.checkpoint import load_checkpoint

        loaded = load_checkpoint(src.checkpoint, src.model, src.num_classes, src.trust_checkpoint)
        net, info = loaded.model, loaded.info
        name, classes, source = info.model, info.num_classes, src.checkpoint
        entries, numel, layout = info.state_dict_entries, info.state_dict_numel, info.layout
    else:
        from sramflow.models.efficientnet import build_model

        name, classes = src.model or DEFAULT_MODEL, src.num_classes or DEFAULT_NUM_CLASSES
        net = build_model(name, classes, seed=src.seed)
        sd = net.state_dict()
        entries, numel, layout = len(sd), int(sum(t.numel() for t in sd.values())), None
        source = f"random weights (seed {src.seed})"
    params = int(sum(p.numel() for p in net.parameters()))
    resolution = src.resolution or get_arch(name).resolution  # each variant's own (B0 224 ... B3 300)
    g = torch_to_graph(net, resolution, name)
    return LoadedGraph(g, name, classes, resolution, source, params, entries, numel, layout)
