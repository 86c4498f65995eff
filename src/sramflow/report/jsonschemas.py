"""JSON Schemas of the main outputs, shipped in the package (``report/schemas``) for anyone reading them.

``schema_for`` maps an output file name to its schema; a file without its own schema gets ``output``, which asks only
for the ``provenance`` object every JSON output carries.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

NAMED = ("inference_simulator_report", "claimed_macro_simulation", "sram_design", "model_analysis",
         "quantization_report", "verify_report", "functional_report", "baselines", "layer_mapping",
         "weight_mapping_summary")


@cache
def load_schema(name: str) -> dict[str, Any]:
    text = resources.files("sramflow.report").joinpath("schemas", f"{name}.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def schema_for(file_name: str) -> dict[str, Any]:
    stem = file_name.removesuffix(".json")
    return load_schema(stem if stem in NAMED else "output")
