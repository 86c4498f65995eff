"""Analytical simulation of a whole graph: map every node, price its counts, collect typed results.

``prepare_graph`` lowers a graph once (reuse it across hardware points in a sweep);
``simulate_prepared`` maps and prices it for one hardware description and objective.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from sramflow.errors import SramflowError
from sramflow.hw.spec import HardwareSpec
from sramflow.ir.graph import Graph
from sramflow.mapping.conv import ConvSchedule, ConvShape
from sramflow.mapping.conv_search import search_conv
from sramflow.mapping.counts import ceil_div
from sramflow.mapping.fused import FusedSchedule, FusedShape
from sramflow.mapping.lower import lower_graph
from sramflow.mapping.vector import VectorSchedule, VectorShape, search_vector
from sramflow.sim.cost import COMPONENTS, busy_cycles, energy_pj, total_cycles
from sramflow.sim.results import Bounds, NodeResult

OBJECTIVES = ("latency", "energy", "edp")
Schedule = ConvSchedule | VectorSchedule | FusedSchedule


@dataclass(frozen=True)
class PreparedGraph:
    graph: Graph
    shapes: tuple[ConvShape | VectorShape | FusedShape, ...]  # one per graph node, in order


@dataclass(frozen=True)
class SimulationResult:
    graph_name: str
    hw: HardwareSpec
    objective: str
    schedules: tuple[Schedule, ...]
    nodes: tuple[NodeResult, ...]
    uncosted_nodes: tuple[str, ...]
    wall_s: float


def prepare_graph(graph: Graph) -> PreparedGraph:
    return PreparedGraph(graph, lower_graph(graph))


def simulate_graph(graph: Graph, hw: HardwareSpec, objective: str = "latency") -> SimulationResult:
    return simulate_prepared(prepare_graph(graph), hw, objective)


def simulate_prepared(prep: PreparedGraph, hw: HardwareSpec, objective: str = "latency") -> SimulationResult:
    if objective not in OBJECTIVES:
        raise SramflowError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    t0 = time.perf_counter()
    cache: dict[object, Schedule] = {}
    schedules, results = [], []
    for node, shape in zip(prep.graph.nodes, prep.shapes):
        key = dataclasses.replace(shape, name="")
        if key not in cache:
            cache[key] = map_shape(shape, hw, objective)
        sch = dataclasses.replace(cache[key], shape=shape)
        schedules.append(sch)
        results.append(price(node.name, node.op, sch, hw))
    return SimulationResult(prep.graph.name, hw, objective, tuple(schedules), tuple(results), (),
                            time.perf_counter() - t0)


def map_shape(shape: ConvShape | VectorShape | FusedShape, hw: HardwareSpec, objective: str) -> Schedule:
    if isinstance(shape, FusedShape):
        return FusedSchedule(shape)
    if isinstance(shape, ConvShape):
        return search_conv(shape, hw, objective)
    return search_vector(shape, hw, objective)


def bounds(sch: Schedule, hw: HardwareSpec) -> Bounds:
    bw = hw.offchip.bandwidth_bytes_per_cycle
    if isinstance(sch, ConvSchedule):
        sh = sch.shape
        nbytes = sh.weight_bytes + sh.bias_bytes + sh.input_bytes + sh.output_bytes
        compute = ceil_div(sch.counts.vector_ops, hw.vector_unit.lanes) if sh.pool_op else \
            ceil_div(sh.macs, hw.mac_array.macs_per_cycle)
    else:
        c = sch.counts  # vector nodes move each operand exactly once: their traffic is compulsory
        nbytes = c.offchip_bytes
        compute = ceil_div(c.vector_ops + c.lut_ops, hw.vector_unit.lanes)
    return Bounds(int(compute), int(-(-nbytes // bw)), int(nbytes))


def price(name: str, op: str, sch: Schedule, hw: HardwareSpec) -> NodeResult:
    if isinstance(sch, FusedSchedule):
        zero = {k: 0 for k in ("offchip", "sram_port", "mac", "vector")}
        return NodeResult(name, op, "fused", sch.counts, zero, False, 0, 0.0, {k: 0.0 for k in COMPONENTS},
                          Bounds(0, 0, 0), "fused", sch.note)
    c = sch.counts
    cdict = {f.name: getattr(c, f.name) for f in dataclasses.fields(c)}
    busy = {k: int(v) for k, v in busy_cycles(cdict, hw).items()}
    overlap = sch.tiling.double_buffered if isinstance(sch, ConvSchedule) else sch.double_buffered
    cycles = int(total_cycles(busy, overlap))
    energy = {k: float(v) for k, v in energy_pj(cdict, hw, cycles).items()}
    main = {k: busy[k] for k in ("offchip", "sram_port", "mac", "vector")}
    binding = max(main, key=lambda k: (main[k], k))
    unit = "mac" if isinstance(sch, ConvSchedule) and not sch.shape.pool_op else "vector"
    return NodeResult(name, op, unit, c, main, bool(overlap),
                      cycles, cycles / (hw.clock_mhz * 1e3), energy, bounds(sch, hw), binding)
