"""The model-zoo benchmark (issue 22 item 4): every network of ``tests/helpers/zoo.py`` (own PyTorch definitions, random
weights, exported with torch.onnx.export opset 17 at 96 px into a temporary folder) and the built-in
EfficientNet-B0 through the chain a user runs, via the same library calls as the CLI:

    sramflow analyze --onnx F            -> import
    sramflow quantize --onnx F --calib-random 8 --method minmax --export-tflite T
    sramflow verify --images 1           -> every tensor against LiteRT's BUILTIN_REF kernels
    sramflow simulate --onnx F --hw sky130-design1 --functional --random

    PYTHONPATH=src .venv/bin/python benchmarks/bench_zoo.py [--nets resnet18,unet] [--resolution 96] [--out zoo.json]

Prints one progress line per stage, then a table: parameters, MACs, per-stage status (with the first error line),
mismatched tensors, nodes costed / nodes, latency, energy and off-chip traffic on sky130-design1 (default fusion),
and wall seconds per stage ("costed" counts the nodes the mapper costs after fusion lowering, depth-first by
default as ``simulate`` runs). Nothing is downloaded. Exit status 0 when every network passes every stage.

Measured (this tree, 96 px, sky130-design1, 2-core machine; 11 of 11 pass every stage):
  network              params  MMACs  mismatched  costed   latency ms  energy mJ  off-chip MB
  resnet18            703,386   24.9    0/40       48/48      219.01     6.464      6.31
  mobilenet_v2        112,426    4.7    0/42       64/64       55.47     1.676      1.68
  mobilenet_v3_small  185,735    3.2    0/82       87/87       36.74     1.040      1.03
  densenet             34,558   13.1    0/81       90/90      141.23     3.893      3.86
  shufflenet_v2        46,738    1.5    0/51       67/67       19.95     0.537      0.53
  squeezenet1_1       184,362   11.7    0/39       64/64      111.39     3.306      3.18
  googlenet           143,038   16.2    0/50       82/82      155.94     4.315      4.13
  unet                 29,930   65.8    0/22       31/31      541.29    17.613     17.18
  unet_bilinear        29,930   65.8    0/22       31/31      564.93    18.359     17.84
  vgg11               220,050   23.3    0/17       25/25      186.68     6.036      5.97
  efficientnet_b0   3,995,507   71.1    0/239     238/238     999.35    31.246     31.22
The classifier's pool joining its conv's group (whose output, read by the pool alone, is then never stored) moved
mobilenet_v2 from 56.00 ms, v3_small from 42.11 ms / 1.18 MB, shufflenet_v2 from 20.21 ms / 0.55 MB and
efficientnet_b0 from 1001.75 ms / 31.38 MB, all still bit-exact with equal counts.
MobileNetV3's 13 HardSwish nodes (opset 14 and later export HardSwish as one node, not HardSigmoid and Mul) ran
as vector passes of their own until a lone HardSwish became an epilogue link (``ir.fusion``): 42.00 ms / 1.174 mJ /
1.17 MB -> 37.51 / 1.041 / 1.03, and 5 of its 7 pools now join their conv's group. ResNet18's ReLU after each
residual Add joins the Add on its conv's output path where the Add does (5 of 8 blocks here; the other 3 Adds keep
a pass, their conv's partial sums spill): 219.84 ms / 6.492 mJ / 6.34 MB -> 219.01 / 6.464 / 6.31.
Accumulator groups of several channels over fewer rows and one slot for a one-tile operand under double buffering
(``search.tiling_table.acc_groups``, ``conv.buffer_words``) moved UNet from 541.59 ms / 17.625 mJ / 17.19 MB (with
bilinear resize 565.23 / 18.371 / 17.85), VGG11 from 186.95 / 6.048 / 5.99, MobileNetV2 from 55.78 ms, MobileNetV3
from 37.51 / 1.041, ShuffleNetV2 from 20.04 / 0.549 / 0.54 and B0 from 999.71 / 31.262 / 31.24.
DenseNet first failed at import (a BatchNormalization after a Concat, no Conv to fold into); the importer now
writes it as the per-channel Mul and Add the TFLite converter writes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "src"))
sys.path.insert(0, str(ROOT.parent / "tests"))  # helpers.zoo: the definitions, shared with tests/test_zoo.py

import numpy as np  # noqa: E402

HW = "sky130-design1"
STAGES = ("import", "quantize", "verify", "simulate", "functional")


@dataclass
class ZooRow:
    network: str
    params: int = 0
    macs: int = 0
    status: dict[str, str] = field(default_factory=dict)  # stage -> "ok" | "FAIL: first error line" | "skipped"
    wall_s: dict[str, float] = field(default_factory=dict)
    tensors_compared: int = 0
    tensors_mismatched: int = 0
    nodes: int = 0
    nodes_costed: int = 0
    latency_ms: float = 0.0
    energy_mj: float = 0.0
    offchip_mb: float = 0.0
    functional_tensors: int = 0
    functional_mismatched: int = 0

    @property
    def passed(self) -> bool:
        return all(self.status.get(s) == "ok" for s in STAGES)


def _first_line(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}".strip().splitlines()
    return text[0][:160] if text else type(e).__name__


def _stage(row: ZooRow, stage: str, fn: Callable[[], Any]) -> Any:
    """Run one stage, recording status and wall time; None (and a FAIL status) when it raises or reports a failure."""
    t0 = time.perf_counter()
    try:
        out = fn()
        row.status[stage] = "ok"
    except Exception as e:  # noqa: BLE001 - a benchmark reports every failure and goes on
        row.status[stage] = f"FAIL: {_first_line(e)}"
        if "--debug" in sys.argv:
            traceback.print_exc()
        out = None
    row.wall_s[stage] = round(time.perf_counter() - t0, 2)
    print(f"  {row.network:20s} {stage:10s} {row.status[stage][:110]:110s} {row.wall_s[stage]:7.1f} s", flush=True)
    return out


class StageFailed(Exception):
    pass


def run_network(name: str, folder: Path, resolution: int) -> ZooRow:
    from sramflow.flow.calibration import at_weight_bits, calibrate
    from sramflow.flow.quantize import QuantizeJob, run_quantize, run_verify
    from sramflow.frontend.source import ModelSource, load_graph
    from sramflow.funcsim.run import run_functional
    from sramflow.hw.load import resolve_hw
    from sramflow.reference.run import quantize_input
    from sramflow.sim.api import prepare_graph, simulate_prepared
    from sramflow.sim.results import total_json
    from helpers import zoo as zoo_nets

    row = ZooRow(name)
    if name in zoo_nets.BUILTIN:
        src = ModelSource(model=name, resolution=resolution)
    else:
        row.params, row.macs = zoo_nets.size(name, resolution)
        src = ModelSource(onnx=str(zoo_nets.export(name, folder, resolution)))
    loaded = _stage(row, "import", lambda: load_graph(src))
    if loaded is None:
        return _skip(row, "import")
    if name in zoo_nets.BUILTIN:  # counted on the imported graph (BN folded), as analyze counts them
        from sramflow.ir.analysis import node_macs

        g = loaded.graph
        row.params = sum(int(w.size) for n in g.nodes for w in n.weights.values())
        row.macs = sum(node_macs(g, n) for n in g.nodes)
    qdir = folder / f"{name}_q"

    def quantize() -> Any:
        return run_quantize(QuantizeJob(src, str(qdir), "minmax", calib_random=8,
                                        export_tflite=str(qdir / "model_int8.tflite")))

    def verify() -> dict:
        r = run_verify(str(qdir), 1, str(qdir))
        row.tensors_compared, row.tensors_mismatched = r["tensors_compared"], r["tensors_mismatched"]
        if r["tensors_mismatched"]:
            raise StageFailed(f"{r['tensors_mismatched']} of {r['tensors_compared']} tensors differ; first "
                              f"{r['first_mismatch']}")
        return r

    def simulate() -> Any:
        from sramflow.cli_args import FUSION_DEFAULT

        hw = resolve_hw(HW)
        res = simulate_prepared(prepare_graph(loaded.graph, FUSION_DEFAULT), hw, "latency", None)
        tot = total_json(list(res.nodes), hw.clock_mhz)
        row.nodes, row.nodes_costed = len(res.nodes) + len(res.uncosted_nodes), len(res.nodes)
        row.latency_ms, row.energy_mj = tot["time_ms"], tot["energy_uj"] * 1e-3
        row.offchip_mb = sum(tot["offchip_bytes"].values()) / 1e6
        if res.uncosted_nodes:
            raise StageFailed(f"{len(res.uncosted_nodes)} nodes not costed, first {res.uncosted_nodes[0]}")
        return res

    def functional() -> Any:
        g = loaded.graph
        x = np.random.default_rng(0).standard_normal(tuple(int(d) for d in g.shape(g.input)[1:])).astype(np.float32)
        q = at_weight_bits(calibrate(g, x[None], description="random input (seed 0)"), g, 8).qgraph
        hw = res.hw
        r = run_functional(g, q, res.schedules, quantize_input(q, x), hw.main_sram.total_words, hw.main_sram.word_bytes)
        row.functional_tensors, row.functional_mismatched = r.tensors_compared, len(r.mismatches)
        if not (r.bit_exact and r.counts_match and r.clobbers == 0):
            raise StageFailed(f"bit_exact={r.bit_exact} ({len(r.mismatches)} of {r.tensors_compared} tensors "
                              f"mismatched) counts_match={r.counts_match} clobbers={r.clobbers}")
        return r

    if _stage(row, "quantize", quantize) is not None:
        _stage(row, "verify", verify)
    else:
        row.status["verify"] = "skipped"
    res = _stage(row, "simulate", simulate)
    if res is not None or row.status["simulate"].startswith("FAIL: StageFailed"):
        if res is None:
            row.status["functional"] = "skipped"
        else:
            _stage(row, "functional", functional)
    else:
        row.status["functional"] = "skipped"
    return row


def _skip(row: ZooRow, after: str) -> ZooRow:
    for s in STAGES[STAGES.index(after) + 1:]:
        row.status[s] = "skipped"
    return row


def table(rows: list[ZooRow]) -> str:
    head = (f"{'network':20s} {'params':>8s} {'MMACs':>7s} {'import':7s} {'quant':7s} {'verify':7s} {'sim':7s} "
            f"{'func':7s} {'mism':>9s} {'costed':>9s} {'lat ms':>9s} {'E mJ':>8s} {'offMB':>7s}  wall s (imp/q/ver/sim/func)")
    lines = [head, "-" * len(head)]
    for r in rows:
        st = [("ok" if r.status.get(s) == "ok" else ("skip" if r.status.get(s) == "skipped" else "FAIL")) for s in STAGES]
        walls = "/".join(f"{r.wall_s.get(s, 0):.1f}" for s in STAGES)
        lines.append(f"{r.network:20s} {r.params:8,d} {r.macs / 1e6:7.1f} " + " ".join(f"{s:7s}" for s in st)
                     + f" {r.tensors_mismatched:4d}/{r.tensors_compared:<4d} {r.nodes_costed:4d}/{r.nodes:<4d}"
                     f" {r.latency_ms:9.2f} {r.energy_mj:8.3f} {r.offchip_mb:7.2f}  {walls}")
    fails = [(r.network, s, r.status[s]) for r in rows for s in STAGES if r.status.get(s, "").startswith("FAIL")]
    if fails:
        lines.append("")
        lines += [f"{n}: {s}: {msg}" for n, s, msg in fails]
    passed = sum(r.passed for r in rows)
    lines.append(f"\n{passed} of {len(rows)} networks pass every stage (import, quantize, verify 0 mismatches, "
                 f"simulate all nodes costed on {HW}, functional bit-exact with equal counts)")
    return "\n".join(lines)


def main() -> int:
    from helpers import zoo as zoo_nets

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", default=",".join([*zoo_nets.ZOO, *zoo_nets.BUILTIN]),
                    help="comma-separated networks (default: all)")
    ap.add_argument("--resolution", type=int, default=96)
    ap.add_argument("--out", default=None, help="write the rows as JSON here")
    ap.add_argument("--debug", action="store_true", help="print tracebacks of failing stages")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.nets.split(","):
            print(f"[{len(rows) + 1}/{len(a.nets.split(','))}] {name}", flush=True)
            rows.append(run_network(name, Path(tmp), a.resolution))
    print()
    print(table(rows))
    if a.out:
        Path(a.out).write_text(json.dumps({"hw": HW, "resolution": a.resolution,
                                           "rows": [asdict(r) | {"passed": r.passed} for r in rows]}, indent=1))
        print(f"wrote {a.out}")
    return 0 if all(r.passed for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
