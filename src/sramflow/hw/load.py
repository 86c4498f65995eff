"""Hardware descriptions from YAML / dicts, validated field by field, and the shipped presets.

Every error is a ``HardwareSpecError`` that names the origin (file) and the field path, e.g.
``design.yaml: sram[0].words: must be a power of two, got 100``. Validation happens here, before any
dataclass is built; the dataclasses in ``spec.py`` only keep their invariants.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from sramflow.errors import HardwareSpecError
from sramflow.hw.spec import (
    PORT_KINDS,
    SOURCE_KINDS,
    HardwareSpec,
    MacArray,
    OffchipMemory,
    RegisterFile,
    RegisterLevel,
    Source,
    SramMacro,
    VectorUnit,
    mac_register_bytes,
)
from sramflow.hw.yamlio import load_yaml_file, load_yaml_text

DEFAULT_PRESET = "sky130-design1"
_OFFCHIP_FILE = "_offchip.yaml"

# Field kinds: how a value is checked and converted.
POS_INT, NONNEG_INT, POS_FLOAT, NONNEG_FLOAT = "positive int", "int >= 0", "positive number", "number >= 0"
STR, BOOL, PORTS, SOURCE, FIELD_SOURCES = "string", "boolean", "port kind", "source", "field sources"

_SRAM_FIELDS = {
    "name": STR, "word_bits": POS_INT, "words": POS_INT, "ports": PORTS, "banks": POS_INT,
    "read_energy_pj": NONNEG_FLOAT, "write_energy_pj": NONNEG_FLOAT, "idle_energy_pj_per_cycle": NONNEG_FLOAT,
    "leakage_uw": NONNEG_FLOAT, "clk_to_q_ns": POS_FLOAT, "min_period_ns": POS_FLOAT, "area_um2": NONNEG_FLOAT,
    "vdd_v": POS_FLOAT, "source": SOURCE, "field_sources": FIELD_SOURCES, "double_buffering": BOOL,
    "tech": STR, "power_of_two_words": BOOL, "partition_of": STR,
}
_OFFCHIP_FIELDS = {
    "name": STR, "kind": STR, "bandwidth_bytes_per_cycle": POS_FLOAT, "latency_cycles": NONNEG_INT,
    "read_energy_pj_per_byte": NONNEG_FLOAT, "write_energy_pj_per_byte": NONNEG_FLOAT,
    "standby_power_uw": NONNEG_FLOAT, "source": SOURCE, "field_sources": FIELD_SOURCES, "burst_bytes": NONNEG_INT,
}
_MAC_FIELDS = {
    "macs_per_cycle": POS_INT, "energy_pj_per_mac": NONNEG_FLOAT, "accumulator_bits": POS_INT,
    "accumulators": POS_INT, "leakage_uw": NONNEG_FLOAT, "source": SOURCE, "field_sources": FIELD_SOURCES,
    "input_register_bytes": NONNEG_INT,
}
# Fields a user YAML may omit (their dataclass default is the conservative choice) but every shipped preset must
# state, with its reason in the component's source or field_sources: hardware assumptions stay visible.
_PRESET_REQUIRED = {"mac_array": ("input_register_bytes",)}
_VECTOR_FIELDS = {
    "lanes": POS_INT, "energy_pj_per_op": NONNEG_FLOAT, "lut_entries": POS_INT, "energy_pj_per_lut": NONNEG_FLOAT,
    "source": SOURCE, "field_sources": FIELD_SOURCES,
}
_REGFILE_FIELDS = {"bytes_per_lane": POS_INT, "energy_pj_per_access": NONNEG_FLOAT, "source": SOURCE}
_TOP_FIELDS = ("name", "description", "clock_mhz", "memories", "sram", "offchip", "mac_array", "vector_unit",
               "register_file")
# One entry of a ``memories:`` list names its kind by its only key. The MAC array's registers, level 0, may be stated
# first (``- registers: {...}``: capacity, energies, provenance); without it they are derived from ``mac_array``
# (accumulators, input_register_bytes), as in every older file.
_LEVEL_KEYS = ("registers", "sram", "offchip")
_REGISTERS_FIELDS = {"name": STR, "size_bytes": POS_INT, "read_energy_pj_per_byte": NONNEG_FLOAT,
                     "write_energy_pj_per_byte": NONNEG_FLOAT, "source": SOURCE}

# Name tokens that are units: a key that differs from a known field only in these is a unit mistake.
_UNIT_TOKENS = {
    "fj": "fJ", "pj": "pJ", "nj": "nJ", "uj": "uJ", "mj": "mJ", "j": "J",
    "nw": "nW", "uw": "uW", "mw": "mW", "w": "W",
    "ps": "ps", "ns": "ns", "us": "us", "ms": "ms", "s": "s",
    "hz": "Hz", "khz": "kHz", "mhz": "MHz", "ghz": "GHz",
    "um2": "um^2", "mm2": "mm^2", "nm2": "nm^2", "v": "V", "mv": "mV",
    "bits": "bits", "bytes": "bytes", "kb": "KB", "kbits": "Kbit", "cycles": "cycles", "cycle": "cycle",
}


def _err(origin: str, path: str, msg: str) -> HardwareSpecError:
    return HardwareSpecError(f"{origin}: {path}: {msg}")


def _stem(key: str) -> tuple[str, ...]:
    return tuple(t for t in key.lower().split("_") if t not in _UNIT_TOKENS)


def _units(key: str) -> list[str]:
    return [_UNIT_TOKENS[t] for t in key.lower().split("_") if t in _UNIT_TOKENS]


def _check_keys(d: Mapping[str, Any], allowed: Mapping[str, str] | tuple[str, ...], path: str, origin: str) -> None:
    for key in d:
        if not isinstance(key, str):
            raise _err(origin, f"{path}{key!r}", "keys must be strings")
        if key in allowed:
            continue
        twin = next((k for k in allowed if _stem(k) == _stem(key) and _units(k) != _units(key)), None)
        if twin is not None:
            raise _err(origin, f"{path}{key}", f"wrong unit: expected {twin} (in {' per '.join(_units(twin))}), "
                       f"got {key} (in {' per '.join(_units(key)) or 'no unit'})")
        raise _err(origin, f"{path}{key}", f"unknown key; allowed: {', '.join(allowed)}")


def _number(value: Any, path: str, origin: str, kind: str) -> float | int:
    integer = kind in (POS_INT, NONNEG_INT)
    ok_types = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, ok_types):
        raise _err(origin, path, f"must be a {kind}, got {value!r} ({type(value).__name__})")
    if value != value or value in (float("inf"), float("-inf")):
        raise _err(origin, path, f"must be a finite {kind}, got {value!r}")
    if kind in (POS_INT, POS_FLOAT) and value <= 0:
        raise _err(origin, path, f"must be positive, got {value}")
    if value < 0:
        raise _err(origin, path, f"must not be negative, got {value}")
    return int(value) if integer else float(value)


def _source(value: Any, path: str, origin: str) -> Source:
    if not isinstance(value, Mapping):
        raise _err(origin, path, f"provenance must be a mapping with 'kind' and 'ref', got {value!r}")
    _check_keys(value, ("kind", "ref", "low", "high"), f"{path}.", origin)
    for key in ("kind", "ref"):
        if key not in value:
            raise _err(origin, f"{path}.{key}", "missing (provenance needs kind and ref)")
    kind, ref = value["kind"], value["ref"]
    if kind not in SOURCE_KINDS:
        raise _err(origin, f"{path}.kind", f"must be one of {', '.join(SOURCE_KINDS)}, got {kind!r}")
    if not isinstance(ref, str) or not ref.strip():
        raise _err(origin, f"{path}.ref", "must say where the number comes from (non-empty string)")
    if ("low" in value) != ("high" in value):
        raise _err(origin, path, "a range needs both low and high")
    if "low" not in value:
        return Source(kind=kind, ref=ref.strip())
    low = _number(value["low"], f"{path}.low", origin, NONNEG_FLOAT)
    high = _number(value["high"], f"{path}.high", origin, NONNEG_FLOAT)
    if low > high:
        raise _err(origin, path, f"low ({low:g}) must not exceed high ({high:g})")
    return Source(kind=kind, ref=ref.strip(), low=low, high=high)


def _value(value: Any, kind: str, path: str, origin: str, fields: Mapping[str, str]) -> Any:
    if kind == STR:
        if not isinstance(value, str):
            raise _err(origin, path, f"must be a string, got {value!r}")
        return value
    if kind == BOOL:
        if not isinstance(value, bool):
            raise _err(origin, path, f"must be true or false, got {value!r}")
        return value
    if kind == PORTS:
        if value not in PORT_KINDS:
            raise _err(origin, path, f"must be one of {', '.join(PORT_KINDS)}, got {value!r}")
        return value
    if kind == SOURCE:
        return _source(value, path, origin)
    if kind == FIELD_SOURCES:
        if not isinstance(value, Mapping):
            raise _err(origin, path, "must be a mapping from field name to {kind, ref}")
        numeric = {k: v for k, v in fields.items() if v not in (STR, BOOL, PORTS, SOURCE, FIELD_SOURCES)}
        _check_keys(value, numeric, f"{path}.", origin)
        return {k: _source(v, f"{path}.{k}", origin) for k, v in value.items()}
    return _number(value, path, origin, kind)


def _component(d: Any, cls: type, fields: Mapping[str, str], path: str, origin: str) -> Any:
    kwargs = _checked_kwargs(d, cls, fields, path, origin)
    try:
        return cls(**kwargs)
    except HardwareSpecError as exc:
        raise _err(origin, path, str(exc)) from None


def _checked_kwargs(d: Any, cls: type, fields: Mapping[str, str], path: str, origin: str) -> dict[str, Any]:
    if not isinstance(d, Mapping):
        raise _err(origin, path, f"must be a mapping, got {type(d).__name__}")
    _check_keys(d, fields, f"{path}.", origin)
    required = [f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    for name in required:
        if name not in d:
            what = "missing provenance" if name == "source" else "missing"
            raise _err(origin, f"{path}.{name}", what)
    return {k: _value(v, fields[k], f"{path}.{k}", origin, fields) for k, v in d.items()}


def _sram(d: Any, path: str, origin: str) -> SramMacro:
    kw = _checked_kwargs(d, SramMacro, _SRAM_FIELDS, path, origin)
    if kw.get("power_of_two_words", True) and kw["words"] & (kw["words"] - 1):
        raise _err(origin, f"{path}.words", f"must be a power of two, got {kw['words']}")
    if kw["word_bits"] % 8:
        raise _err(origin, f"{path}.word_bits", f"must be a multiple of 8, got {kw['word_bits']}")
    try:
        return SramMacro(**kw)
    except HardwareSpecError as exc:
        raise _err(origin, path, str(exc)) from None


def _offchip(d: Any, path: str, origin: str) -> OffchipMemory:
    if isinstance(d, str):
        try:
            return offchip_preset(d)
        except HardwareSpecError as exc:
            raise _err(origin, path, str(exc)) from None
    return _component(d, OffchipMemory, _OFFCHIP_FIELDS, path, origin)


def _memories(levels: Any, origin: str) -> tuple[RegisterLevel | None, tuple[SramMacro, ...], OffchipMemory]:
    """The ``memories:`` form: optionally the MAC array's registers first, then SRAM levels innermost first, then
    exactly one off-chip memory, last."""
    if not isinstance(levels, list) or len(levels) < 2:
        raise _err(origin, "memories", "must be a list: optionally '- registers: {...}', then one or more "
                   "'- sram: {...}' levels, innermost first, then one '- offchip: ...'")
    srams: list[SramMacro] = []
    registers = None
    for i, entry in enumerate(levels):
        path = f"memories[{i}]"
        if not isinstance(entry, Mapping) or len(entry) != 1:
            raise _err(origin, path, f"must be a mapping with exactly one key ({' or '.join(_LEVEL_KEYS)}), "
                       f"got {entry!r}")
        _check_keys(entry, _LEVEL_KEYS, f"{path}.", origin)
        (kind, body), = entry.items()
        last = i == len(levels) - 1
        if kind == "registers":
            if i != 0:
                raise _err(origin, f"{path}.registers", "the MAC array's registers must be the first (innermost) "
                           "level")
            registers = _component(body, RegisterLevel, _REGISTERS_FIELDS, f"{path}.registers", origin)
            continue
        if kind == "offchip" and not last:
            raise _err(origin, f"{path}.offchip", "the off-chip memory must be the last (outermost) level")
        if kind == "sram" and last:
            raise _err(origin, path, "the last (outermost) level must be '- offchip: ...'")
        if kind == "offchip":
            if not srams:
                raise _err(origin, "memories", "needs at least one '- sram: {...}' level")
            return registers, tuple(srams), _offchip(body, f"{path}.offchip", origin)
        macro = _preset_macro(body, f"{path}.sram", origin) if isinstance(body, str) else _sram(
            body, f"{path}.sram", origin)
        if srams and macro.size_bytes <= srams[-1].size_bytes and not macro.partition_of:  # a window may be small
            raise _err(origin, f"{path}.sram", f"level {macro.name!r} holds {macro.size_bytes} B, no more than the "
                       f"level inside it ({srams[-1].name!r}, {srams[-1].size_bytes} B): an outer level must be "
                       "larger (words x banks x word_bits / 8)")
        if any(m.name == macro.name for m in srams):
            raise _err(origin, f"{path}.sram.name", f"level names must be unique, {macro.name!r} appears twice")
        if macro.partition_of and (not srams or macro.partition_of != srams[0].name):
            first = repr(srams[0].name) if srams else "none: this is the first level"
            raise _err(origin, f"{path}.sram.partition_of", f"names {macro.partition_of!r}, but only the first SRAM "
                       f"level's macro can be split into windows (its name: {first}); name it, or remove the key "
                       "for a macro of its own")
        srams.append(macro)
    raise AssertionError("unreachable: the last entry is checked above")


def _check_registers(r: RegisterLevel | None, mac: MacArray, origin: str) -> None:
    """A stated register level agrees with the MAC array the mapper uses, and its energy is not priced twice."""
    if r is None:
        return
    path = "memories[0].registers"
    if r.size_bytes != mac_register_bytes(mac):
        raise _err(origin, f"{path}.size_bytes", f"is {r.size_bytes}, but mac_array holds {mac_register_bytes(mac)} B "
                   "(accumulators x accumulator_bits / 8 + input_register_bytes): state the same capacity")
    for f in ("read_energy_pj_per_byte", "write_energy_pj_per_byte"):
        if getattr(r, f):
            raise _err(origin, f"{path}.{f}", "must be 0: the registers' accesses are priced inside "
                       "mac_array.energy_pj_per_mac (a MAC's energy includes its operand and accumulator registers); "
                       "state that in source")


_LOADING: set[str] = set()  # presets being loaded, so a preset that names itself is an error, not a recursion


def _preset_macro(name: str, path: str, origin: str) -> SramMacro:
    """``- sram: <preset>``: that preset's innermost SRAM level, so a preset reuses a macro without copying it."""
    if name not in list_presets():
        raise _err(origin, path, f"{name!r} is not a preset ({', '.join(list_presets())}); give the level's "
                   "fields or a preset name")
    if name in _LOADING:
        raise _err(origin, path, f"preset {name!r} refers to itself")
    return _load_preset(name).main_sram


def _old_form(d: Mapping[str, Any], origin: str) -> tuple[tuple[SramMacro, ...], OffchipMemory]:
    """The ``sram:`` + ``offchip:`` form: one SRAM level and its off-chip memory."""
    for key in ("sram", "offchip"):
        if key not in d:
            raise _err(origin, key, "missing")
    macros = d["sram"]
    if not isinstance(macros, list) or not macros:
        raise _err(origin, "sram", "must be a list of one or more macros")
    names = [m.get("name") if isinstance(m, Mapping) else None for m in macros]
    if len(set(names)) != len(names):
        raise _err(origin, "sram", f"macro names must be unique, got {names}")
    if len(macros) > 1:
        raise _err(origin, "sram", f"lists {len(macros)} macros; the 'sram:' form describes one SRAM level. For "
                   "several levels write a 'memories:' list instead, innermost first: '- sram: {...}' per level, "
                   "then '- offchip: ...' (see sky130-design1-l2)")
    sram = (_sram(macros[0], "sram[0]", origin),)
    return sram, _offchip(d["offchip"], "offchip", origin)


def hw_from_dict(d: Any, origin: str = "<dict>") -> HardwareSpec:
    """Validate a plain dict (as read from YAML) and build the frozen ``HardwareSpec``."""
    if not isinstance(d, Mapping):
        raise HardwareSpecError(f"{origin}: the top level must be a mapping, got {type(d).__name__}")
    _check_keys(d, _TOP_FIELDS, "", origin)
    for key in ("name", "clock_mhz", "mac_array", "vector_unit"):
        if key not in d:
            raise _err(origin, key, "missing")
    name = _value(d["name"], STR, "name", origin, {})
    description = _value(d.get("description", ""), STR, "description", origin, {})
    clock_mhz = _number(d["clock_mhz"], "clock_mhz", origin, POS_FLOAT)
    if "memories" in d:
        both = [k for k in ("sram", "offchip") if k in d]
        if both:
            raise _err(origin, both[0], "given together with 'memories:'; the memories list already holds every "
                       "SRAM level and the off-chip memory, so remove this key")
        registers, sram, offchip = _memories(d["memories"], origin)
    else:
        registers, (sram, offchip) = None, _old_form(d, origin)
    regfile = d.get("register_file")
    mac = _component(d["mac_array"], MacArray, _MAC_FIELDS, "mac_array", origin)
    _check_registers(registers, mac, origin)
    return HardwareSpec(
        name=name, description=description, clock_mhz=clock_mhz, sram=sram, offchip=offchip, mac_array=mac,
        vector_unit=_component(d["vector_unit"], VectorUnit, _VECTOR_FIELDS, "vector_unit", origin),
        register_file=None if regfile is None else _component(regfile, RegisterFile, _REGFILE_FIELDS,
                                                              "register_file", origin),
        registers=registers,
    )


def _to_plain(obj: Any) -> Any:
    if isinstance(obj, Source):
        rng = {} if obj.low is None else {"low": obj.low, "high": obj.high}
        return {"kind": obj.kind, "ref": obj.ref, **rng}
    if dataclasses.is_dataclass(obj):
        d = {f.name: _to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        if isinstance(obj, SramMacro) and not obj.partition_of:  # a macro of its own: the key is left out
            d.pop("partition_of")
        return d
    if isinstance(obj, Mapping):
        return {k: _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, tuple | list):
        return [_to_plain(v) for v in obj]
    return obj


def macro_to_dict(macro: SramMacro) -> dict[str, Any]:
    """One ``sram:`` entry as a plain dict."""
    return _to_plain(macro)


def hw_to_dict(spec: HardwareSpec) -> dict[str, Any]:
    """Plain dict (YAML/JSON-ready) that ``hw_from_dict`` turns back into an equal spec: the ``sram:`` +
    ``offchip:`` form for one SRAM level (as every one-level file is written), ``memories:`` for more or where the
    registers are stated as a level."""
    d = _to_plain(spec)
    if d.get("register_file") is None:
        d.pop("register_file", None)
    registers = d.pop("registers", None)
    if len(spec.sram) > 1 or registers is not None:
        levels = [{"registers": registers}] if registers is not None else []
        levels += [{"sram": m} for m in d.pop("sram")] + [{"offchip": d.pop("offchip")}]
        d = {k: v for k, v in d.items() if k in ("name", "description", "clock_mhz")} | {"memories": levels} | {
            k: v for k, v in d.items() if k not in ("name", "description", "clock_mhz")}
    return d


# ---------------------------------------------------------------- presets


def _preset_dir() -> Any:
    return resources.files("sramflow.hw").joinpath("presets")


def list_presets() -> list[str]:
    """Names of the shipped hardware presets (``sky130-design1`` first)."""
    names = sorted(p.name[:-5] for p in _preset_dir().iterdir()
                   if p.name.endswith(".yaml") and not p.name.startswith("_"))
    return sorted(names, key=lambda n: n != DEFAULT_PRESET)


@cache
def _load_preset(name: str) -> HardwareSpec:
    text = _preset_dir().joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    origin = f"preset {name}"
    data = load_yaml_text(text, origin)
    check_preset_fields(data, origin)
    _LOADING.add(name)
    try:
        return hw_from_dict(data, origin)
    finally:
        _LOADING.discard(name)


def check_preset_fields(d: Any, origin: str) -> None:
    """A shipped preset states every field in ``_PRESET_REQUIRED`` (a user YAML may omit them)."""
    if not isinstance(d, Mapping):
        return  # hw_from_dict names the problem
    for section, names in _PRESET_REQUIRED.items():
        part = d.get(section)
        if not isinstance(part, Mapping):
            continue
        for name in names:
            if name not in part:
                raise _err(origin, f"{section}.{name}", "missing (a shipped preset must state it and its source; "
                           "a user file may omit it, meaning 0)")


@cache
def _offchip_presets() -> dict[str, OffchipMemory]:
    text = _preset_dir().joinpath(_OFFCHIP_FILE).read_text(encoding="utf-8")
    origin = f"preset {_OFFCHIP_FILE}"
    data = load_yaml_text(text, origin)
    if not isinstance(data, Mapping):
        raise HardwareSpecError(f"{origin}: must map names to off-chip memories")
    return {k: _component(v, OffchipMemory, _OFFCHIP_FIELDS, k, origin) for k, v in data.items()}


def list_offchip_presets() -> list[str]:
    return list(_offchip_presets())


def offchip_preset(name: str) -> OffchipMemory:
    """A named off-chip memory (``qspi-flash``, ``qspi-psram``, ``lpddr4``, ``zigzag-offchip``)."""
    presets = _offchip_presets()
    if name not in presets:
        raise HardwareSpecError(f"unknown off-chip memory {name!r}; known: {', '.join(presets)}")
    return presets[name]


def resolve_hw(name_or_path: str) -> HardwareSpec:
    """A preset name (see ``list_presets``) or the path of a YAML hardware description."""
    if name_or_path in list_presets():
        return _load_preset(name_or_path)
    path = Path(name_or_path)
    if path.suffix.lower() in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise HardwareSpecError(f"{name_or_path}: no such file")
        return hw_from_dict(load_yaml_file(path), path.name)
    raise HardwareSpecError(
        f"unknown hardware {name_or_path!r}: not a preset ({', '.join(list_presets())}) and not a YAML file")
