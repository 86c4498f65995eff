"""Design spaces: a YAML mapping of parameter names to lists of values, validated, expanded to points.

```yaml
base: sky130-design1        # preset (or YAML file) the points modify; default sky130-design1
sram_words: [64, 128, 256]  # a grid: every combination of the lists
sram_ports: [1rw, 1rw1r]
random: 200                 # optional: sample 200 distinct points of the grid instead ...
seed: 0                     # ... with this seed (required with random)
```
Every error is a ``SweepSpaceError`` naming the file and the key. A value that no hardware can take
(e.g. 100 words for a power-of-two macro) is an error here; a point that is valid but cannot run (no
tile fits, clock faster than the SRAM) is recorded as infeasible with its reason, never dropped.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sramflow.sweep.errors import SweepSpaceError
from sramflow.hw.load import DEFAULT_PRESET, list_offchip_presets
from sramflow.hw.spec import PORT_KINDS
from sramflow.sweep.precision import canonical_weight_bits

Value = Any
Point = tuple[tuple[str, Value], ...]  # (parameter, value) pairs in PARAMETERS order


def _pos_int(v: Value) -> Value:
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        raise ValueError(f"must be a positive integer, got {v!r}")
    return v


def _word_bits(v: Value) -> Value:
    if _pos_int(v) % 8:
        raise ValueError(f"must be a multiple of 8, got {v!r}")
    return v


def _pos_number(v: Value) -> Value:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
        raise ValueError(f"must be a positive number, got {v!r}")
    return float(v)


def _choice(options: Callable[[], list[str]]) -> Callable[[Value], Value]:
    def check(v: Value) -> Value:
        known = options()
        if v not in known:
            raise ValueError(f"must be one of {', '.join(known)}, got {v!r}")
        return v
    return check


@dataclass(frozen=True)
class Parameter:
    name: str
    check: Callable[[Value], Value]  # returns the canonical value or raises ValueError
    help: str


PARAMETERS: dict[str, Parameter] = {p.name: p for p in (
    Parameter("sram_words", _pos_int, "words per bank of the main SRAM macro"),
    Parameter("sram_word_bits", _word_bits, "bits per word (multiple of 8)"),
    Parameter("sram_banks", _pos_int, "banks (each one port set, accessed in parallel)"),
    Parameter("sram_ports", _choice(lambda: list(PORT_KINDS)), "1rw or 1rw1r"),
    Parameter("macs_per_cycle", _pos_int, "MAC lanes (accumulators scale along, one per lane)"),
    Parameter("clock_mhz", _pos_number, "accelerator clock (off-chip link keeps its bytes per second)"),
    Parameter("offchip", _choice(list_offchip_presets), "named off-chip memory preset"),
    Parameter("weight_bits", canonical_weight_bits, "8, 4, or {group: bits} per layer group (and layer patterns)"),
)}
SPACE_KEYS = ("base", "random", "seed")


@dataclass(frozen=True)
class SweepSpace:
    base: str
    params: tuple[tuple[str, tuple[Value, ...]], ...]  # in PARAMETERS order
    random_points: int | None = None
    seed: int | None = None

    @property
    def grid_size(self) -> int:
        return math.prod(len(vals) for _, vals in self.params)

    @property
    def size(self) -> int:
        return self.random_points if self.random_points is not None else self.grid_size


def _err(origin: str, key: str, msg: str) -> SweepSpaceError:
    return SweepSpaceError(f"{origin}: {key}: {msg}")


def _values(name: str, raw: Any, origin: str) -> tuple[Value, ...]:
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise _err(origin, name, "empty list of values (give at least one)")
    out: list[Value] = []
    for i, v in enumerate(items):
        try:
            canon = PARAMETERS[name].check(v)
        except ValueError as exc:
            raise _err(origin, f"{name}[{i}]", str(exc)) from None
        if canon in out:
            raise _err(origin, f"{name}[{i}]", f"value {v!r} is listed twice")
        out.append(canon)
    return tuple(out)


def _int_key(d: Mapping[str, Any], key: str, origin: str, minimum: int) -> int | None:
    if key not in d:
        return None
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise _err(origin, key, f"must be an integer >= {minimum}, got {v!r}")
    return v


def space_from_dict(d: Any, origin: str = "<space>") -> SweepSpace:
    if not isinstance(d, Mapping) or not d:
        raise SweepSpaceError(f"{origin}: must map parameter names to lists of values")
    for key in d:
        if key not in PARAMETERS and key not in SPACE_KEYS:
            raise _err(origin, str(key), f"unknown parameter; known parameters: {', '.join(PARAMETERS)} "
                       f"(and {', '.join(SPACE_KEYS)})")
    base = d.get("base", DEFAULT_PRESET)
    if not isinstance(base, str) or not base:
        raise _err(origin, "base", f"must name a hardware preset or YAML file, got {base!r}")
    params = tuple((name, _values(name, d[name], origin)) for name in PARAMETERS if name in d)
    if not params:
        raise SweepSpaceError(f"{origin}: no parameters to sweep; known: {', '.join(PARAMETERS)}")
    n, seed = _int_key(d, "random", origin, 1), _int_key(d, "seed", origin, 0)
    if (n is None) != (seed is None):
        raise _err(origin, "random" if n is None else "seed", "random: N and seed: S go together")
    space = SweepSpace(base=base, params=params, random_points=n, seed=seed)
    if n is not None and n > space.grid_size:
        raise _err(origin, "random", f"{n} distinct points asked, but the grid has only {space.grid_size}")
    return space


def load_space(path: str | Path) -> SweepSpace:
    from sramflow.errors import HardwareSpecError
    from sramflow.hw.yamlio import load_yaml_file

    p = Path(path)
    if not p.is_file():
        raise SweepSpaceError(f"{path}: no such sweep space file")
    try:
        data = load_yaml_file(p)
    except HardwareSpecError as exc:
        raise SweepSpaceError(str(exc)) from None
    return space_from_dict(data, p.name)


def _point_at(space: SweepSpace, index: int) -> Point:
    out: list[tuple[str, Value]] = []
    for name, vals in reversed(space.params):
        index, r = divmod(index, len(vals))
        out.append((name, vals[r]))
    return tuple(reversed(out))


def expand(space: SweepSpace) -> list[Point]:
    """All grid points (row-major in PARAMETERS order), or ``random`` distinct ones drawn with ``seed``."""
    if space.random_points is None:
        return [tuple(zip((n for n, _ in space.params), combo, strict=True))
                for combo in itertools.product(*(vals for _, vals in space.params))]
    picks = random.Random(space.seed).sample(range(space.grid_size), space.random_points)
    return [_point_at(space, i) for i in picks]
