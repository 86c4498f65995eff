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
    return _builtin(src)


def _builtin(src: ModelSource) -> LoadedGraph:
    """A built-in architecture, built straight into the IR (no torch; ``frontend.builtin``), with checkpoint
    weights (safetensors read as numpy) or seeded random ones (``models.state.random_state``)."""
    from sramflow.frontend.builtin import builtin_graph
    from sramflow.models.arch import get_arch
    from sramflow.models.state import random_state, state_numel, state_spec, trainable_params

    padding = "symmetric"
    if src.checkpoint:
        from pathlib import Path

        from sramflow.models.checkpoint_match import match_state
        from sramflow.models.state_numpy import read_state_numpy

        matched = match_state(read_state_numpy(src.checkpoint, src.trust_checkpoint), Path(src.checkpoint),
                              src.model, src.num_classes)
        info = matched.info
        name, classes, source, eps = info.model, info.num_classes, src.checkpoint, info.bn_eps
        entries, numel, layout, padding = info.state_dict_entries, info.state_dict_numel, info.layout, info.padding
        state = {k: v for k, v in matched.state.items() if v is not None}
        spec = state_spec(get_arch(name), classes)
    else:
        name, classes = src.model or DEFAULT_MODEL, src.num_classes or DEFAULT_NUM_CLASSES
        if classes < 1:
            raise SramflowError(f"--num-classes must be >= 1, got {classes}")
        arch = get_arch(name)
        spec = state_spec(arch, classes)
        state, eps = random_state(arch, classes, src.seed), 1e-5
        entries, numel, layout = len(spec), state_numel(spec), None
        source = f"random weights (seed {src.seed})"
    resolution = src.resolution or get_arch(name).resolution  # each variant's own (B0 224 ... B3 300)
    g = builtin_graph(get_arch(name), state, resolution, eps, name, padding)
    return LoadedGraph(g, name, classes, resolution, source, trainable_params(spec), entries, numel, layout)
