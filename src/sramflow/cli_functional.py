"""``sramflow simulate --functional``: run the schedule on real INT8 data (flags hooked into cli_sim; the
functional simulator itself is ``sramflow.funcsim``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sramflow.frontend.source import LoadedGraph
    from sramflow.sim.api import SimulationResult


def add_functional_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("functional simulation")
    g.add_argument("--functional", action="store_true",
                   help="also execute the schedule on real INT8 data through an SRAM model; writes "
                        "functional_report.json (bit-exactness vs the integer reference, counts vs the analytical model)")
    src = g.add_mutually_exclusive_group()
    src.add_argument("--image", default=None, help="input image for --functional (also the calibration image)")
    src.add_argument("--random", action="store_true", help="seeded random input for --functional (seed: --seed)")
    g.add_argument("--trace", default=None, metavar="FILE",
                   help="with --functional: write the SRAM access trace (gzipped text: cycle port r/w word data)")


def _input(a: argparse.Namespace, chw: tuple[int, int, int]):  # noqa: ANN202 - (float CHW image, description)
    """The input of the graph's shape ``chw`` (an ONNX model's channels and size, not always 3 x R x R)."""
    import numpy as np

    from sramflow.errors import SramflowError

    if a.image:
        from sramflow.data.preprocess import load_image

        if chw[0] != 3 or chw[1] != chw[2]:
            raise SramflowError(f"--image gives a 3 x R x R image; the model's input is {chw}: use --random")
        return load_image(a.image, chw[1]), f"image {a.image}"
    if a.random:
        x = np.random.default_rng(a.seed).standard_normal(chw).astype(np.float32)
        return x, f"random standard-normal input (seed {a.seed})"
    raise SramflowError("--functional needs an input: --image FILE or --random")


def run_functional_cmd(a: argparse.Namespace, loaded: LoadedGraph, res: SimulationResult) -> int:
    """Quantize (calibrated on the input itself), execute, compare, write the report. 0 when all checks pass."""
    from sramflow.flow.calibration import at_weight_bits, calibrate
    from sramflow.funcsim.report import write_report, write_trace
    from sramflow.funcsim.run import run_functional
    from sramflow.reference.run import quantize_input

    c, h, w = loaded.graph.shape(loaded.graph.input)[1:]
    x, desc = _input(a, (int(c), int(h), int(w)))
    cal = calibrate(loaded.graph, x[None], description=f"the simulated input ({desc})")
    q = at_weight_bits(cal, loaded.graph, getattr(a, "weight_bits", 8)).qgraph
    hw = res.hw
    r = run_functional(loaded.graph, q, res.schedules, quantize_input(q, x), hw.main_sram.total_words,
                       hw.main_sram.word_bytes, trace=bool(a.trace))
    meta = {"model": loaded.model, "source": loaded.source, "resolution": loaded.resolution, "hw": hw.name,
            "input": desc, "calibration": q.calibration, "weight_bits": getattr(a, "weight_bits", 8)}
    print(f"functional: bit_exact={r.bit_exact} ({r.tensors_compared} tensors, {len(r.mismatches)} mismatched) "
          f"counts_match={r.counts_match} clobbers={r.clobbers} class={r.predicted_class} wall {r.wall_s:.1f} s "
          f"(integer reference {r.reference_wall_s:.2f} s)")
    if a.out:
        print(f"wrote {write_report(r, a.out, meta)}")
    if a.trace and r.trace is not None:
        print(f"wrote {write_trace(r.trace, a.trace, hw.main_sram.word_bytes)}")
    return 0 if (r.bit_exact and r.counts_match and r.clobbers == 0) else 1
