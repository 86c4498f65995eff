"""Mixed INT8 / INT4 weights on B0 @224 with the shipped checkpoint, sky130-design1 (issue 21, items 1-2):
off-chip weight bytes, latency, energy and total traffic per inference for five ``--weight-bits`` specs, from
the analytical simulator (the same figures as ``sramflow simulate --checkpoint ... --weight-bits SPEC``; the
functional simulator reproduces its counts exactly, tests/test_funcsim_int4.py). Also the packed weight
bytes of the model itself (each layer's weights once).

Accuracy is not measured here: it is read from weights/precision_accuracy.json (``sramflow evaluate --weight-bits
SPEC`` on the test split), per checkpoint sha256: the shipped checkpoint's rows (INT8, post-training INT4), then
the rows of each other checkpoint in QAT_CHECKPOINTS that exists (trained with INT4 fake quantization,
``python -m sramflow.train --qat-from ... --weight-bits SPEC``). The traffic figures do not depend on the weight
values, so they hold for those checkpoints too.

Run: PYTHONPATH=src .venv/bin/python benchmarks/bench_int4.py
"""

from __future__ import annotations

import time
from pathlib import Path

from sramflow.frontend.source import ModelSource, load_graph
from sramflow.hw.load import resolve_hw
from sramflow.eval.precision_table import file_sha256, measured_accuracy
from sramflow.mapping.conv import ConvShape
from sramflow.sim.api import prepare_graph, simulate_prepared
from sramflow.sim.writers import report_json
from sramflow.sweep.precision import with_weight_bits

CHECKPOINT = Path(__file__).resolve().parents[1] / "weights" / "efficientnet_b0_ham10000.safetensors"
QAT_CHECKPOINTS = (CHECKPOINT.with_name("efficientnet_b0_ham10000_w4pw.safetensors"),)
# the pointwise convs of stages 4-8 whose per-layer INT4 KL on validation is <= 0.005 (scripts/int4_sensitivity.py;
# the first project conv of stages 4-6 are the three above it): 73 % of the INT8 weight traffic
SENSITIVITY_MIX = "default=8,features.[4-7].*.block.[03].0=4,features.8.0=4,features.[456].0.block.3.0=8"
SPECS = (("all 8", "8"), ("pointwise 4", "pointwise=4,default=8"),
         ("all but stem/classifier 4", "stem=8,classifier=8,default=4"), ("all 4", "4"),
         ("sensitivity mix (KL<=0.005)", SENSITIVITY_MIX))
GOAL_CUT, GOAL_LOSS = 0.35, 0.01  # issue 21: >= 35 % less weight traffic, <= 1 point balanced accuracy lost


def main() -> None:
    loaded = load_graph(ModelSource(checkpoint=str(CHECKPOINT), resolution=224))
    hw = resolve_hw("sky130-design1")
    base = prepare_graph(loaded.graph)
    rows = []
    for label, spec in SPECS:
        t0 = time.perf_counter()
        prep = with_weight_bits(base, spec)
        tot = report_json(simulate_prepared(prep, hw))["total"]
        model_bytes = sum(s.weight_bytes for s in prep.shapes if isinstance(s, ConvShape))
        rows.append((label, spec, model_bytes, tot["offchip_bytes"]["weights"], tot["time_ms"],
                     tot["energy_uj"] / 1e3, sum(tot["offchip_bytes"].values()) / 1e6, time.perf_counter() - t0))
    w8 = rows[0][3]
    print(f"B0 @224, {CHECKPOINT.name}, {hw.name}, objective latency; accuracy from weights/precision_accuracy.json "
          "where measured (same checkpoint sha256), else assumed")
    print(f"{'weights':28s} {'model B':>10s} {'off-chip weight B':>18s} {'vs all 8':>9s} {'latency ms':>11s} "
          f"{'energy mJ':>10s} {'off-chip MB':>12s}")
    for label, spec, mb, wb, ms, mj, mbytes, wall in rows:
        print(f"{label:28s} {mb:>10,d} {wb:>18,d} {wb / w8 - 1:>+9.1%} {ms:>11,.2f} {mj:>10.3f} {mbytes:>12.2f}"
              f"   ({spec}; {wall:.1f} s)")
    for ckpt in (CHECKPOINT, *(c for c in QAT_CHECKPOINTS if c.is_file())):
        sha = file_sha256(ckpt)
        print(f"{ckpt.name} (sha256 {sha[:12]}):")
        for label, spec, *_ in rows:
            m = measured_accuracy(spec, sha)
            if m.entry is None and ckpt != CHECKPOINT:
                continue  # a QAT checkpoint is measured at the spec it was trained for (and INT8)
            acc = ("" if m.entry is None else f"balanced accuracy {m.entry['balanced_accuracy']:.4f} "
                   f"{m.entry['balanced_accuracy_ci95']}, accuracy {m.entry['accuracy']:.4f}; ")
            print(f"  {label:28s} {acc}{m.note}")
    int8 = measured_accuracy("8", file_sha256(CHECKPOINT)).entry
    for label, spec, _, wb, *_ in rows[1:]:
        m = measured_accuracy(spec, file_sha256(CHECKPOINT)).entry
        if m is None or int8 is None:
            continue
        loss = int8["balanced_accuracy"] - m["balanced_accuracy"]
        ci = m.get("minus_int8_ci95") or {}
        ok = 1 - wb / w8 >= GOAL_CUT and loss <= GOAL_LOSS
        print(f"goal ({label}, PTQ of {CHECKPOINT.name}): weight traffic {1 - wb / w8:.1%} less (>= {GOAL_CUT:.0%}), "
              f"balanced accuracy {-loss * 100:+.2f} points vs INT8 (>= {-GOAL_LOSS * 100:.0f}; paired 95 % interval "
              f"{ci.get('balanced_accuracy')}): {'met' if ok else 'not met'} on the test split")


if __name__ == "__main__":
    main()
