"""The network-level cycles / energy front of the Conv/Gemm nodes (``sim.pareto``): its ends are the latency and
energy objectives' totals, and a certificate excludes exactly the points no mapping reaches."""

from __future__ import annotations

import numpy as np

from sramflow.sim.api import prepare_graph, simulate_prepared
from sramflow.sim.pareto import certificate, hull, lagrangian, layer_fronts
from sramflow.sim.results import total_json
from test_mapping_counts import make_hw
from test_sim_graph import tiny_graph


def _setup():  # noqa: ANN202
    hw = make_hw(accumulators=4, words=64)
    prep = prepare_graph(tiny_graph())
    return hw, prep, layer_fronts(prep.shapes, hw)


def _conv_totals(prep, hw, objective: str) -> tuple[int, float]:  # noqa: ANN001
    t = total_json(list(simulate_prepared(prep, hw, objective).nodes), hw.clock_mhz)
    return t["conv_gemm_cycles"], t["conv_gemm_energy_uj"] * 1e6


def test_fronts_are_pareto_and_their_ends_are_the_objectives() -> None:
    hw, prep, fronts = _setup()
    assert fronts and sum(f.nodes for f in fronts) == sum(1 for r in simulate_prepared(prep, hw).nodes
                                                           if r.unit == "mac")
    for f in fronts:
        assert np.all(np.diff(f.cycles) > 0) and np.all(np.diff(f.energy_pj) < 0)
    cyc, en = _conv_totals(prep, hw, "latency")
    c_inf, e_inf = lagrangian(fronts, 1e12)  # cycles priced far above energy: least cycles, then least energy
    assert c_inf == cyc and np.isclose(e_inf, en)
    cyc_e, en_e = _conv_totals(prep, hw, "energy")
    c0, e0 = lagrangian(fronts, 0.0)
    assert np.isclose(e0, en_e) and c0 <= cyc_e
    pts = hull(fronts, np.r_[0.0, np.logspace(-3, 6, 19)])
    assert pts[0][0] == cyc and pts[-1][0] == c0
    assert all(b[1] <= a[1] for a, b in zip(pts, pts[1:]))  # more cycles, no more energy


def test_certificate_excludes_only_unreachable_points() -> None:
    hw, prep, fronts = _setup()
    cyc, en = _conv_totals(prep, hw, "latency")
    cyc_e, en_e = _conv_totals(prep, hw, "energy")
    assert certificate(fronts, cyc, en) is None  # the latency objective's own point is reachable
    assert certificate(fronts, cyc_e, en_e) is None
    lam, gap = certificate(fronts, cyc - 1, 1e30)  # fewer cycles than the least any mapping has
    assert lam > 0 and gap > 0
    assert certificate(fronts, 1e30, en_e * (1 - 1e-6)) is not None  # less energy than the least
