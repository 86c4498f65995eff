"""Validate an output document the way it is written: the writers add the command's provenance, so a document built
in memory gets a stand-in one before it meets its schema."""

from __future__ import annotations

from typing import Any

import jsonschema

from sramflow.report.jsonschemas import load_schema

PROVENANCE = {"sramflow_version": "0", "git_commit": None, "command": "sramflow simulate", "inputs": {}}


def validate_as_written(doc: dict[str, Any], schema: str) -> None:
    """Raise ``jsonschema.ValidationError`` where ``doc``, with a provenance added, does not match ``schema``."""
    jsonschema.validate({**doc, "provenance": PROVENANCE}, load_schema(schema))
