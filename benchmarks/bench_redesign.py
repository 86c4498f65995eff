"""The speed targets of the redesign (issue 16, item 5), each with the figure before the redesign measured in the
same run: the tree of commit BEFORE (default bc576ff) is unpacked with ``git archive`` into a temporary folder
and timed the same way, through its own CLI.

    .venv/bin/python benchmarks/bench_redesign.py [--no-before] [--before-commit REV] [--repeat 3] [--only 64k]

Figures (wall seconds on this machine; "process" = a new Python process, imports included):
  simulate      `sramflow simulate --model efficientnet_b0 --num-classes 7 --resolution 224 --hw sky130-design1`
  functional    the functional simulation of B0@224 on sky130-design1 (the wall the CLI prints for
                `simulate --functional --random`; the committed checkpoint's weights when present)
  64k process   `sramflow simulate` of B0@224 on design1 with 64 KiB of SRAM (words x 256, a temporary YAML)
  64k warm      the same point simulated inside one process right after design1 (`simulate_graph`, imports and
                numpy warm, nothing of design1's search reusable: other SRAM words, so no choice memoized by
                ``mapping.search.bounded`` applies), and the top of its profile (own time per function: where the
                time goes); a last line says whether its CPU seconds meet the 0.3 s target
  64k sweep     the 64 KiB point at half the clock priced the way a sweep prices it (`simulate_totals`) right after
                the 64 KiB point at the preset's clock, whose tiling tables it reuses (a sweep's next point of
                the same tiling group); "64k sweep 1st" (no target) is that first point, which builds the tables
Timings on a shared machine are noisy: the least of ``--repeat`` runs is printed, with the CPU seconds of that
process (user + sys) beside it, which other load disturbs less than the wall.

Measured 2026-12-03 10:27-10:30 UTC (session 9, branch ``warm``: the bounded search's order-free bound for every
candidate and the per-order cheap bound only where it can still win, every loop order priced in one call, shapes of
more than 1024 candidates bounded, memoized clipped extents and ``dma_bursts_by_operand``), CPU seconds of 6 runs
each, the two trees alternating run by run (/tmp scripts calling this file's ``_run`` and ``_WARM``) on this 2-core
machine while other helpers' jobs and a training run loaded it: single runs vary by +-30 %, so read the least and
the ratio:
  64k warm     main 550877d  0.56 0.72 0.55 0.58 0.65 0.54 (least 0.54)
               warm          0.59 0.58 0.47 0.42 0.41 0.62 (least 0.41)    target 0.3: not met
  64k process  main          1.20 1.61 1.25 1.15 1.20 1.10 (least 1.10)
               warm          1.34 1.36 1.17 1.15 0.92 1.31 (least 0.92)    (whole process)
  B0@224 on sky130-design1-l2, depth-first, ``simulate_prepared`` latency (mapping and pricing; model built before):
               main          12.00 12.99 11.45 10.46 10.75 11.95 (least 10.46)
               warm          9.72 8.42 9.34 9.43 7.72 10.02 (least 7.72)
The chosen schedules are unchanged: the ``simulate --out`` JSONs of B0 and Lite0 @224 on sky130-design1, its 64 KiB
edit and sky130-design1-l2, objectives latency, energy and edp, are byte-identical to main's (run times excluded).
What the 64k warm point still spends (about 0.25-0.3 s of it in the bounded search, the rest in ``search_vector``
and pricing the chosen schedules): the order-free bound over 25-60 K grid candidates per large layer (~2.5 ms
each), class sums and exact pricing of the ~1 K candidates per large layer whose bounds stay under the best
objective (the first incumbent is already optimal on every large B0 layer but the stem, so only tighter bounds
would price fewer).

Session 11 (2026-12-04, 80350ca): two tighter bounds (``bounded._ordered``: every loop order's exact factors on the
sum bounds, so a spilling order's SRAM traffic counts; input reads at least the in-image input bytes where every
window row is read) cut the candidates priced exactly on the large layers from 38-1,024 to 0-56 (the stem's first
incumbent is now its optimum), with every chosen schedule unchanged. The warm point did not measurably move: CPU
seconds of 4 alternating one-point processes, this tree 0.40 0.45 0.42 0.50 against the tree before 0.42 0.43 0.47
0.49 (the machine ~10 % slower than in session 9); the least of ``--repeat 3`` was 0.43. What remains is spread
thin: the order-free bound over every grid candidate (~5 ms per large layer), class sums of the incumbents, pricing
the 82 chosen convolutions, ``search_vector`` (71 calls), each a few hundred small numpy operations per layer.

Session 12 (2026-12-04, this file's run at the commit that records it, ``--repeat 3``, least of 3, CPU seconds):
simulate 1.05 (before 4.17), functional 8.90 s wall (29.70), 64k process 0.70 (6.49), **64k warm 0.24 (3.39):
target 0.3 met**, 64k sweep next point 0.01, first 2.33; functional bit-exact, counts equal, no clobbers. What took
the warm point from ~0.36 to ~0.24 (in-process A/B against the session's first tree, interleaved, least of 12:
0.348 -> 0.245, then -0.01 more): no second work on what the search has already computed (the chosen row's counts
memoized as its ``schedule_counts``; a candidate batch's step sizes taken from its class sums), no work the pricing
never reads (``conv_counts(priced_only=True)`` in the bounds: no steps, transfers or loads, no multiplications by a
reload factor of 1; no energy in ``search_vector`` under latency, whose ties go to the largest chunk), and fewer
numpy calls (accumulator groups without masks, trips of many tiles by look-up, the loop orders' factors written
into preallocated arrays, the fitting rows gathered once). Every chosen schedule, count, cycle, energy and level
traffic of B0 and Lite0 @224 on sky130-design1, its 64 KiB edit and sky130-design1-l2 (latency / energy / edp,
depth-first, and none under latency) is identical to the session's first tree (24 hashes). The machine's speed
varies by +-20 % minute to minute: single warm runs of this tree measured 0.24-0.33 s CPU.
"""

from __future__ import annotations

import argparse
import os
import resource
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "weights" / "efficientnet_b0_ham10000.safetensors"
BEFORE = "bc576ff"
SIM_ARGS = ["simulate", "--model", "efficientnet_b0", "--num-classes", "7", "--resolution", "224"]
TARGETS = {"simulate": 3.0, "functional": 10.0, "64k process": 2.0, "64k warm": 0.3, "64k sweep": 0.3,
           "64k sweep 1st": None}

_WARM = r"""
import cProfile, io, pstats, sys, time
from sramflow.frontend.source import ModelSource, load_graph
from sramflow.hw.load import resolve_hw
from sramflow.sim.api import simulate_graph
g = load_graph(ModelSource(model="efficientnet_b0", num_classes=7, resolution=224)).graph
simulate_graph(g, resolve_hw("sky130-design1"))  # the previous point: imports and numpy warm
hw = resolve_hw(sys.argv[1])
if sys.argv[2] == "time":
    t, c = time.perf_counter(), time.process_time(); simulate_graph(g, hw)
    print(f"WARM {time.perf_counter() - t:.3f} CPU {time.process_time() - c:.3f}")
elif sys.argv[2] == "sweep":
    import dataclasses
    from sramflow.sim.api import prepare_graph, simulate_totals
    prep = prepare_graph(g)
    t, c = time.perf_counter(), time.process_time(); simulate_totals(prep, hw)
    print(f"FIRST {time.perf_counter() - t:.3f} CPU {time.process_time() - c:.3f}")
    slow = dataclasses.replace(hw, clock_mhz=hw.clock_mhz / 2)
    t, c = time.perf_counter(), time.process_time(); simulate_totals(prep, slow)
    print(f"NEXT {time.perf_counter() - t:.3f} CPU {time.process_time() - c:.3f}")
else:
    prof = cProfile.Profile(); prof.enable(); simulate_graph(g, hw); prof.disable()
    out = io.StringIO(); pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(40)
    rows = [l.split() for l in out.getvalue().splitlines() if "/sramflow/" in l]
    print("PROFILE " + "; ".join(f"{r[-1].split('/sramflow/')[-1]} {float(r[1]):.2f}s self {float(r[3]):.2f}s cum"
                                 for r in rows[:8]))
"""


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _run(tree: Path, args: list[str], timeout: int = 900) -> tuple[float, str, float]:
    """(wall s, stdout, CPU s) of one child process."""
    env = dict(os.environ, PYTHONPATH=str(tree / "src"))
    c, t = _cpu_children(), time.perf_counter()
    p = subprocess.run([sys.executable, *args], cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
    wall, cpu = time.perf_counter() - t, _cpu_children() - c
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])} in {tree} failed ({p.returncode}): {p.stderr.strip()[-400:]}")
    return wall, p.stdout, cpu


def _least(runs: list[tuple[float, str, float]]) -> tuple[float, float]:
    wall, _, cpu = min(runs, key=lambda r: r[0])
    return wall, cpu


def _yaml_64k(tree: Path, folder: Path) -> Path:
    text = (tree / "src/sramflow/hw/presets/sky130-design1.yaml").read_text()
    text, n = re.subn(r"(?m)^(\s+words:) 128$", r"\1 32768", text)
    if n != 1:
        raise RuntimeError("sky130-design1.yaml: expected one 'words: 128' line to scale to 64 KiB")
    out = folder / f"design1-64k-{tree.name}.yaml"
    out.write_text(text.replace("name: sky130-design1\n", "name: sky130-design1-64k\n"))
    return out


def measure(tree: Path, folder: Path, repeat: int, only_64k: bool = False) -> dict[str, object]:
    fig: dict[str, object] = {}
    if not only_64k:
        fig["simulate"], fig["simulate cpu"] = _least([_run(tree, ["-m", "sramflow", *SIM_ARGS, "--hw",
                                                                   "sky130-design1"]) for _ in range(repeat)])
        ckpt = ["--checkpoint", str(CHECKPOINT), "--resolution", "224"] if CHECKPOINT.exists() else SIM_ARGS[1:]
        _, out, fig["functional cpu"] = _run(tree, ["-m", "sramflow", "simulate", *ckpt, "--hw", "sky130-design1",
                                                    "--functional", "--random"])
        m = re.search(r"functional: bit_exact=(\w+).*counts_match=(\w+) clobbers=(\d+).* wall ([\d.]+) s", out)
        fig["functional"] = float(m.group(4)) if m else None
        fig["functional checks"] = f"bit_exact={m.group(1)} counts_match={m.group(2)} clobbers={m.group(3)}" if m \
            else "?"
    hw = _yaml_64k(tree, folder)
    fig["64k process"], fig["64k process cpu"] = _least([_run(tree, ["-m", "sramflow", *SIM_ARGS, "--hw", str(hw)])
                                                         for _ in range(repeat)])
    warm = [re.search(r"WARM ([\d.]+) CPU ([\d.]+)", _run(tree, ["-c", _WARM, str(hw), "time"])[1])
            for _ in range(repeat)]
    fig["64k warm"], fig["64k warm cpu"] = min((float(w.group(1)), float(w.group(2))) for w in warm)
    sweep = [_run(tree, ["-c", _WARM, str(hw), "sweep"])[1] for _ in range(repeat)]
    for key, tag in (("64k sweep 1st", "FIRST"), ("64k sweep", "NEXT")):
        got = [re.search(tag + r" ([\d.]+) CPU ([\d.]+)", out) for out in sweep]
        fig[key], fig[key + " cpu"] = min((float(w.group(1)), float(w.group(2))) for w in got)
    fig["64k profile"] = re.search(r"PROFILE (.*)", _run(tree, ["-c", _WARM, str(hw), "profile"])[1]).group(1)
    return fig


def _before_tree(rev: str, folder: Path) -> Path:
    tree = folder / f"before-{rev}"
    tree.mkdir()
    archive = subprocess.run(["git", "archive", rev, "src"], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-before", dest="before", action="store_false", help="skip the pre-redesign tree")
    ap.add_argument("--before-commit", default=BEFORE)
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure (the least is printed)")
    ap.add_argument("--only", choices=["64k"], help="only the 64 KiB figures")
    a = ap.parse_args()
    only = a.only == "64k"
    with tempfile.TemporaryDirectory(prefix="sramflow-bench-") as tmp:
        folder = Path(tmp)
        now = measure(ROOT, folder, a.repeat, only)
        before = measure(_before_tree(a.before_commit, folder), folder, a.repeat, only) if a.before else {}
    print(f"{'figure (wall s)':<14} {'now':>8} {'target':>8} {'before (' + a.before_commit + ')':>18}   "
          "CPU s now / before")
    for key, target in TARGETS.items():
        b, n = before.get(key), now.get(key)
        if key not in now:
            continue
        ok = "    " if target is None else "ok  " if n is not None and n <= target else "OVER"
        limit = "-" if target is None else "<= " + format(target, "g")
        cpu = f"{_fmt(now.get(key + ' cpu'))} / {_fmt(before.get(key + ' cpu'))}" if key + " cpu" in now else ""
        print(f"{key:<14} {_fmt(n):>8} {limit:>8} {_fmt(b):>18}  {ok} {cpu}")
    print("(CPU: user + sys of the whole process for simulate, functional (model loading, mapping and quantization "
          "included) and 64k process; of the timed call for 64k warm and the sweep figures)")
    if not only:
        print(f"functional checks now: {now['functional checks']}"
              + (f"; before: {before['functional checks']}" if before else ""))
    warm, warm_cpu = now["64k warm"], now["64k warm cpu"]
    target = TARGETS["64k warm"]
    print(f"64k warm point (B0@224, 64 KiB SRAM, simulated after design1 in one process): {warm:.2f} s wall, "
          f"{warm_cpu:.2f} s CPU; target <= {target:g} s: {'met' if warm_cpu <= target else 'not met'} (CPU seconds "
          f"decide: the wall of a loaded shared machine measures the other jobs too)"
          + (f"; before: {before['64k warm']:.2f} s wall, {before['64k warm cpu']:.2f} s CPU" if before else ""))
    print(f"64k warm, top of the profile now: {now['64k profile']}")
    if before:
        print(f"64k warm, top of the profile before: {before['64k profile']}")


def _fmt(x: object) -> str:
    return "-" if x is None else f"{x:.2f}"


if __name__ == "__main__":
    main()
