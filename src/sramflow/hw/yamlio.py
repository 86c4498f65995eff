"""Strict YAML reading: duplicate keys are errors (``yaml.safe_load`` silently keeps the last one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sramflow.errors import HardwareSpecError


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with the same key twice."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise HardwareSpecError(
                f"duplicate key {key!r} at line {key_node.start_mark.line + 1} "
                f"(first at line {seen[key]})")
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml_text(text: str, origin: str) -> Any:
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - SafeLoader subclass
    except HardwareSpecError as exc:
        raise HardwareSpecError(f"{origin}: {exc}") from None
    except yaml.YAMLError as exc:
        raise HardwareSpecError(f"{origin}: not valid YAML: {exc}") from None


def load_yaml_file(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HardwareSpecError(f"{path}: cannot read: {exc.strerror}") from None
    return load_yaml_text(text, path.name)


def dump_yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=110, allow_unicode=True)
