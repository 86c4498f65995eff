"""Argument checks that run while the command line is parsed, so a slip costs no work.

Each function is an argparse ``type``: it returns the converted value or raises ``ArgumentTypeError`` with the fix.
argparse prefixes the message with the argument's name; ``OneLineParser`` prints it as one line and exits 2.
Only the standard library is imported here: ``sramflow --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn


class OneLineParser(argparse.ArgumentParser):
    """Errors as one line (argument, problem, fix) and exit status 2, without the usage block."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"sramflow: error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(2)


def _number(text: str, kind: type, what: str) -> float | int:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None


def positive_int(text: str) -> int:
    value = int(_number(text, int, "a whole number"))
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {value}")
    return value


@dataclass(frozen=True)
class CycleBudgetArg:
    """``--cycle-budget``: a number of cycles, or a percentage over the latency objective's cycles."""

    cycles: int | None = None
    over_fastest_pct: float | None = None


def tile_bytes(text: str) -> int:
    """``--tile-bytes``: ``whole`` (0: no split of the SRAM) or the tile buffer's bytes of a split."""
    if text.strip().lower() == "whole":
        return 0
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError as e:
        raise argparse.ArgumentTypeError(f"{e}; give the tile buffer's bytes (e.g. 16384) or 'whole'") from None


MAX_BUDGET_PCT = 1000.0  # a budget above 11x the fastest mapping's cycles is a slip, not a trade-off


def cycle_budget(text: str) -> CycleBudgetArg:
    """``N`` cycles, or ``P%`` / ``+P%``: P percent more cycles than the latency objective's mapping."""
    t = text.strip()
    if not t.endswith("%"):
        try:
            return CycleBudgetArg(cycles=positive_int(t))
        except argparse.ArgumentTypeError as e:
            raise argparse.ArgumentTypeError(f"{e}; give a positive number of cycles or a percentage over the "
                                             "fastest mapping's cycles such as +0.5%") from None
    body = t[:-1].strip()
    pct = float(_number(body[1:] if body.startswith("+") else body, float, "a percentage such as +0.5%"))
    if not 0 < pct <= MAX_BUDGET_PCT:
        raise argparse.ArgumentTypeError(f"must be a positive percentage over the fastest mapping's cycles, at most "
                                         f"{MAX_BUDGET_PCT:g} %, got {text!r} (e.g. +0.5%)")
    return CycleBudgetArg(over_fastest_pct=pct)


def over_fastest_budget(text: str) -> float:
    """``+P%`` only (``sramflow run``): the percentage over each simulation's fastest mapping."""
    if not text.strip().endswith("%"):
        raise argparse.ArgumentTypeError(f"give a percentage over the fastest mapping's cycles such as +1%, got "
                                         f"{text!r} (run's simulations on other hardware, without fusion and at "
                                         "the sensitivity points each have fastest cycles of their own)")
    got = cycle_budget(text).over_fastest_pct
    assert got is not None
    return got


def positive_float(text: str) -> float:
    value = float(_number(text, float, "a number"))
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def out_dir(text: str) -> str:
    """An output folder: may not exist yet, but neither it nor a parent may be a file."""
    p = Path(text)
    for q in (p, *p.parents):
        if q.exists():
            if not q.is_dir():
                which = "is a file" if q == p else f"lies under {q}, which is a file"
                raise argparse.ArgumentTypeError(f"{text} {which}; give a folder (it is created if missing)")
            break
    return text


def out_file(text: str) -> str:
    """An output file path: not an existing folder, and its parent not a file."""
    p = Path(text)
    if p.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file path")
    out_dir(str(p.parent))
    return text


def existing_file(text: str) -> str:
    p = Path(text)
    if p.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file")
    if not p.is_file():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    return text


def existing_dir(text: str) -> str:
    p = Path(text)
    if p.is_file():
        raise argparse.ArgumentTypeError(f"{text} is a file; give a folder")
    if not p.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: no such folder")
    return text


def hardware(text: str) -> str:
    """A preset name or a YAML file (a folder or a missing file is named here; the YAML is checked when loaded)."""
    from sramflow.hw.load import list_presets

    if text in list_presets():
        return text
    p = Path(text)
    if p.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a preset name ({', '.join(list_presets())}) "
                                         "or a YAML file")
    if not p.is_file():
        raise argparse.ArgumentTypeError(f"{text!r} is neither a preset ({', '.join(list_presets())}) nor an "
                                         "existing YAML file")
    return text
