"""The speed targets of the redesign (issue 16, item 5), each with the figure before the redesign measured in the
same run: the tree of commit BEFORE (default bc576ff) is unpacked with ``git archive`` into a temporary folder
and timed the same way, through its own CLI.

    .venv/bin/python benchmarks/bench_redesign.py [--no-before] [--before-commit REV] [--repeat 3]

Figures (wall seconds on this machine; "process" = a new Python process, imports included):
  simulate      `sramflow simulate --model efficientnet_b0 --num-classes 7 --resolution 224 --hw sky130-design1`
  functional    the functional simulation of B0@224 on sky130-design1 (the wall the CLI prints for
                `simulate --functional --random`; the committed checkpoint's weights when present)
  64k process   `sramflow simulate` of B0@224 on design1 with 64 KiB of SRAM (words x 256, a temporary YAML)
  64k warm      the same point simulated inside one process right after design1 (a sweep's next point), and the
                top of its profile (own time per function: where the time goes)
Timings on a shared machine are noisy: the least of ``--repeat`` runs is printed, with the CPU seconds of that
process (user + sys) beside it, which other load disturbs less than the wall.
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
TARGETS = {"simulate": 3.0, "functional": 10.0, "64k process": 2.0, "64k warm": 0.3}

_WARM = r"""
import cProfile, io, pstats, sys, time
from sramflow.frontend.source import ModelSource, load_graph
from sramflow.hw.load import resolve_hw
from sramflow.sim.api import simulate_graph
g = load_graph(ModelSource(model="efficientnet_b0", num_classes=7, resolution=224)).graph
simulate_graph(g, resolve_hw("sky130-design1"))  # the sweep's previous point: imports and shared tables warm
hw = resolve_hw(sys.argv[1])
if sys.argv[2] == "time":
    t, c = time.perf_counter(), time.process_time(); simulate_graph(g, hw)
    print(f"WARM {time.perf_counter() - t:.3f} CPU {time.process_time() - c:.3f}")
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


def measure(tree: Path, folder: Path, repeat: int) -> dict[str, object]:
    fig: dict[str, object] = {}
    fig["simulate"], fig["simulate cpu"] = _least([_run(tree, ["-m", "sramflow", *SIM_ARGS, "--hw", "sky130-design1"])
                                                   for _ in range(repeat)])
    ckpt = ["--checkpoint", str(CHECKPOINT), "--resolution", "224"] if CHECKPOINT.exists() else SIM_ARGS[1:]
    _, out, fig["functional cpu"] = _run(tree, ["-m", "sramflow", "simulate", *ckpt, "--hw", "sky130-design1",
                                                "--functional", "--random"])
    m = re.search(r"functional: bit_exact=(\w+).*counts_match=(\w+) clobbers=(\d+).* wall ([\d.]+) s", out)
    fig["functional"] = float(m.group(4)) if m else None
    fig["functional checks"] = f"bit_exact={m.group(1)} counts_match={m.group(2)} clobbers={m.group(3)}" if m else "?"
    hw = _yaml_64k(tree, folder)
    fig["64k process"], fig["64k process cpu"] = _least([_run(tree, ["-m", "sramflow", *SIM_ARGS, "--hw", str(hw)])
                                                         for _ in range(repeat)])
    warm = [re.search(r"WARM ([\d.]+) CPU ([\d.]+)", _run(tree, ["-c", _WARM, str(hw), "time"])[1])
            for _ in range(repeat)]
    fig["64k warm"], fig["64k warm cpu"] = min((float(w.group(1)), float(w.group(2))) for w in warm)
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
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sramflow-bench-") as tmp:
        folder = Path(tmp)
        now = measure(ROOT, folder, a.repeat)
        before = measure(_before_tree(a.before_commit, folder), folder, a.repeat) if a.before else {}
    print(f"{'figure (wall s)':<14} {'now':>8} {'target':>8} {'before (' + a.before_commit + ')':>18}   "
          "process CPU s now / before")
    for key, target in TARGETS.items():
        b, n = before.get(key), now.get(key)
        ok = "ok  " if n is not None and n <= target else "OVER"
        cpu = f"{_fmt(now.get(key + ' cpu'))} / {_fmt(before.get(key + ' cpu'))}" if key + " cpu" in now else ""
        print(f"{key:<14} {_fmt(n):>8} {'<= ' + format(target, 'g'):>8} {_fmt(b):>18}  {ok} {cpu}")
    print("(functional CPU: the whole process, model loading, mapping and quantization included; 64k warm CPU: "
          "the simulate_graph call)")
    print(f"functional checks now: {now['functional checks']}"
          + (f"; before: {before['functional checks']}" if before else ""))
    print(f"64k warm, top of the profile now: {now['64k profile']}")
    if before:
        print(f"64k warm, top of the profile before: {before['64k profile']}")


def _fmt(x: object) -> str:
    return "-" if x is None else f"{x:.2f}"


if __name__ == "__main__":
    main()
