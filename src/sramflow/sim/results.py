"""Typed simulation results and their JSON forms."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from collections.abc import Sequence
from typing import Any

import numpy as np

from sramflow.cost.counts import COUNT_FIELDS, Counts
from sramflow.cost.model import COMPONENTS


@dataclass(frozen=True)
class Bounds:
    compute_cycles: int  # MACs / MACs per cycle (vector ops / lanes for vector nodes)
    offchip_cycles: int  # compulsory bytes (each weight, input, output once) / bandwidth
    compulsory_bytes: int
    # communication lower bound of a Conv/Gemm given the on-chip capacity (``mapping.io_bound``; 0 elsewhere)
    io_bytes: int = 0

    @property
    def cycles(self) -> int:
        return max(self.compute_cycles, self.offchip_cycles)

    @property
    def offchip_bytes(self) -> int:
        """The tighter of the two off-chip traffic bounds."""
        return max(self.compulsory_bytes, self.io_bytes)

    @property
    def offchip_kind(self) -> str:
        """Which bound is the tighter: "io" (capacity-limited reuse) or "compulsory" (each operand once)."""
        return "io" if self.io_bytes > self.compulsory_bytes else "compulsory"


def traffic_ratio(traffic_bytes: int, bound_bytes: int) -> float:
    """Off-chip traffic over its lower bound (1.0 where the bound is 0: nothing need move, nothing moved)."""
    return traffic_bytes / bound_bytes if bound_bytes else 1.0


@dataclass(frozen=True)
class NodeResult:
    name: str
    op: str
    unit: str  # "mac", "vector", or "fused" (an activation applied in its producer's requantize stage)
    counts: Counts
    busy_cycles: Mapping[str, int]  # offchip, sram_port, mac, vector
    overlapped: bool  # double buffered: transfers overlap compute
    cycles: int
    time_ms: float
    energy_pj_by_component: Mapping[str, float]
    bounds: Bounds
    binding_resource: str  # busiest resource; "fused" for a fused activation
    note: str = ""  # e.g. which layer a fused activation is part of
    # bytes per adjacent memory level pair and operand, on hardware with a second SRAM level (``sim.api``)
    level_traffic: Mapping[str, Mapping[str, int]] | None = None

    @property
    def energy_uj(self) -> float:
        return sum(self.energy_pj_by_component.values()) * 1e-6


# the count fields whose sum is ``Counts.offchip_bytes``
_OFFCHIP_FIELDS = ("offchip_weight_bytes", "offchip_input_bytes", "offchip_output_bytes", "offchip_psum_read_bytes",
                   "offchip_psum_write_bytes")


def offchip_by_operand(c: Counts) -> dict[str, int]:
    return {"weights": c.offchip_weight_bytes, "inputs": c.offchip_input_bytes, "outputs": c.offchip_output_bytes,
            "partial_sums": c.offchip_psum_read_bytes + c.offchip_psum_write_bytes}


def _power_mw(energy_uj: float, time_ms: float) -> float:
    return energy_uj / time_ms if time_ms > 0 else 0.0


def node_json(r: NodeResult) -> dict[str, Any]:
    c = r.counts
    return {
        "name": r.name,
        "op": r.op,
        "unit": r.unit,
        "cycles": r.cycles,
        "time_ms": r.time_ms,
        "energy_uj": r.energy_uj,
        "energy_uj_by_component": {k: v * 1e-6 for k, v in r.energy_pj_by_component.items()},
        "avg_power_mw": _power_mw(r.energy_uj, r.time_ms),
        "offchip_bytes": offchip_by_operand(c),
        "sram_reads": c.sram_reads,
        "sram_writes": c.sram_writes,
        "sram_reads_compute": c.sram_reads_compute,
        "sram_writes_dma": c.sram_writes_dma,
        "macs": c.macs,
        "vector_ops": c.vector_ops + c.lut_ops,
        "dma_transfers": c.dma_transfers,
        "busy_cycles": dict(r.busy_cycles),
        "double_buffered": r.overlapped,
        "lower_bound_cycles": r.bounds.cycles,
        "lower_bound_compute_cycles": r.bounds.compute_cycles,
        "lower_bound_offchip_cycles": r.bounds.offchip_cycles,
        "ratio_to_lower_bound": r.cycles / r.bounds.cycles if r.bounds.cycles else 1.0,
        **_offchip_bound_json(c.offchip_bytes, r.bounds),
        "binding_resource": r.binding_resource,
        **({"note": r.note} if r.note else {}),
        **_traffic_json(r.level_traffic),
    }


def _offchip_bound_json(traffic_bytes: int, b: Bounds) -> dict[str, Any]:
    """Per node: both off-chip traffic bounds, the tighter one, which it is, and the traffic's ratio to it."""
    return {"compulsory_bytes": b.compulsory_bytes, "io_lower_bound_bytes": b.io_bytes,
            "offchip_lower_bound_bytes": b.offchip_bytes,
            "offchip_lower_bound_kind": b.offchip_kind,
            "ratio_to_offchip_lower_bound": traffic_ratio(traffic_bytes, b.offchip_bytes)}


_OPERAND_KEYS = {"weights": "weights", "inputs": "inputs", "outputs": "outputs", "psums": "partial_sums"}


def _traffic_json(traffic: Mapping[str, Mapping[str, int]] | None) -> dict[str, Any]:
    """The ``traffic_bytes_by_level_pair`` key (only on hardware with a second SRAM level)."""
    if traffic is None:
        return {}
    return {"traffic_bytes_by_level_pair": {pair: {_OPERAND_KEYS[o]: v for o, v in ops.items()}
                                            for pair, ops in traffic.items()}}


def _sum_traffic(nodes: list[NodeResult]) -> dict[str, dict[str, int]] | None:
    parts = [r.level_traffic for r in nodes if r.level_traffic is not None]
    if not parts:
        return None
    out: dict[str, dict[str, int]] = {}
    for t in parts:
        for pair, ops in t.items():
            acc = out.setdefault(pair, {})
            for o, v in ops.items():
                acc[o] = acc.get(o, 0) + v
    return out


def total_json(nodes: list[NodeResult], clock_mhz: float) -> dict[str, Any]:
    """Network totals of node results; on hardware with a second SRAM level also its components and the traffic
    per level pair (``traffic_bytes_by_level_pair``)."""
    comps = list(nodes[0].energy_pj_by_component) if nodes else list(COMPONENTS)
    return network_totals(
        range(len(nodes)), clock_mhz, [r.cycles for r in nodes],
        {k: [r.energy_pj_by_component[k] for r in nodes] for k in comps},
        np.array([[getattr(r.counts, f) for f in COUNT_FIELDS] for r in nodes], dtype=np.int64)
        .reshape(-1, len(COUNT_FIELDS)),
        [r.binding_resource for r in nodes], [r.bounds.cycles for r in nodes], [r.unit == "mac" for r in nodes],
        [r.bounds.offchip_bytes for r in nodes]) | _traffic_json(_sum_traffic(nodes))


def network_totals(node_index: Sequence[int], clock_mhz: float, cycles: Sequence[int],
                   energy_pj: dict[str, Sequence[float]], counts: np.ndarray, binding: Sequence[str],
                   lower_bound_cycles: Sequence[int], mac_unit: Sequence[bool],
                   offchip_bound_bytes: Sequence[int]) -> dict[str, Any]:
    """The report's ``total`` object of a network whose node ``i`` has the values at ``node_index[i]`` of the
    per-unit sequences (one unit per node, or one per distinct shape in the sweep's vectorized path): ``counts`` is
    (units, ``COUNT_FIELDS``); floats are summed in node order, so both paths give identical totals. ``energy_pj``
    holds the components to report, in order; ``offchip_bound_bytes``: each unit's tighter off-chip traffic bound
    (``Bounds.offchip_bytes``)."""
    nodes = list(node_index)
    units = len(cycles)
    node_uj = [sum(energy_pj[k][j] for k in energy_pj) * 1e-6 for j in range(units)]
    bind: dict[str, int] = {}
    for j in nodes:
        bind[binding[j]] = bind.get(binding[j], 0) + 1
    cg = [j for j in nodes if mac_unit[j]]
    tot = counts[np.asarray(nodes, dtype=np.int64)].sum(axis=0).tolist() if nodes else [0] * len(COUNT_FIELDS)
    offchip_col = [COUNT_FIELDS.index(f) for f in _OFFCHIP_FIELDS]
    cg_traffic = int(counts[np.asarray(cg, dtype=np.int64)][:, offchip_col].sum()) if cg else 0
    return totals_json(
        nodes=len(nodes), cycles=sum(cycles[j] for j in nodes), clock_mhz=clock_mhz,
        energy_uj_by_component={k: sum(energy_pj[k][j] for j in nodes) * 1e-6 for k in energy_pj},
        counts=Counts(**{f: int(v) for f, v in zip(COUNT_FIELDS, tot)}),
        lower_bound_cycles=sum(lower_bound_cycles[j] for j in nodes), binding=bind,
        conv_gemm=(len(cg), sum(cycles[j] for j in cg), sum(node_uj[j] for j in cg),
                   sum(lower_bound_cycles[j] for j in cg)),
        offchip_bound=(sum(offchip_bound_bytes[j] for j in nodes), cg_traffic,
                       sum(offchip_bound_bytes[j] for j in cg)))


def totals_json(*, nodes: int, cycles: int, clock_mhz: float, energy_uj_by_component: dict[str, float], counts: Counts,
                lower_bound_cycles: int, binding: dict[str, int],
                conv_gemm: tuple[int, int, float, int], offchip_bound: tuple[int, int, int]) -> dict[str, Any]:
    """The report's ``total`` object from network sums (``network_totals``); ``conv_gemm``: (nodes, cycles,
    energy_uj, lower-bound cycles) of Conv/Gemm; ``offchip_bound``: (sum of the nodes' off-chip traffic bounds,
    off-chip bytes of the Conv/Gemm nodes, sum of their bounds)."""
    energy = sum(energy_uj_by_component.values())
    time_ms = cycles / (clock_mhz * 1e3)
    lb = lower_bound_cycles
    return {
        "nodes": nodes,
        "cycles": cycles,
        "time_ms": time_ms,
        "energy_uj": energy,
        "energy_uj_by_component": energy_uj_by_component,
        "avg_power_mw": _power_mw(energy, time_ms),
        "offchip_bytes": offchip_by_operand(counts),
        "sram_reads": counts.sram_reads,
        "sram_writes": counts.sram_writes,
        "macs": counts.macs,
        "vector_ops": counts.vector_ops + counts.lut_ops,
        "lower_bound_cycles": lb,
        "ratio_to_lower_bound": cycles / lb if lb else 1.0,
        "binding_resource_counts": binding,
        "conv_gemm_nodes": conv_gemm[0],
        "conv_gemm_cycles": conv_gemm[1],
        "conv_gemm_energy_uj": conv_gemm[2],
        "conv_gemm_lower_bound_cycles": conv_gemm[3],
        "offchip_lower_bound_bytes": offchip_bound[0],
        "ratio_to_offchip_lower_bound": traffic_ratio(counts.offchip_bytes, offchip_bound[0]),
        "conv_gemm_offchip_bytes": offchip_bound[1],
        "conv_gemm_offchip_lower_bound_bytes": offchip_bound[2],
    }
