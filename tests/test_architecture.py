"""The import contracts in .importlinter hold: packages import only what sits below them, no cycles."""

from __future__ import annotations

from copy import deepcopy
from pathlib import Path

import grimp
import pytest
from importlinter.api import read_configuration  # also configures import-linter for the calls below
from importlinter.application.use_cases import lint_imports

CONFIG = Path(__file__).resolve().parents[1] / ".importlinter"


def test_import_contracts_are_kept(capsys: pytest.CaptureFixture[str]) -> None:
    kept = lint_imports(config_filename=str(CONFIG), cache_dir=None, no_logo=True)
    report = capsys.readouterr().out
    assert kept, report


@pytest.fixture(scope="module")
def sramflow_graph() -> grimp.ImportGraph:
    return grimp.build_graph("sramflow", cache_dir=None)


def _contract(contract_id: str):  # noqa: ANN202 - an importlinter Contract
    from importlinter.contracts.acyclic_siblings import AcyclicSiblingsContract
    from importlinter.contracts.forbidden import ForbiddenContract
    from importlinter.contracts.layers import LayersContract

    config = read_configuration(str(CONFIG))
    types = {"layers": LayersContract, "forbidden": ForbiddenContract, "acyclic_siblings": AcyclicSiblingsContract}
    (opts,) = [c for c in config["contracts_options"] if c["id"] == contract_id]
    return types[opts["type"]](opts["name"], config["session_options"], opts)


@pytest.mark.parametrize(("contract_id", "importer", "imported"), [
    ("layers", "sramflow.ir.graph", "sramflow.quant.api"),  # the IR reaching up into the quantizer
    ("layers", "sramflow.quant.api", "sramflow.tflite.export"),  # siblings that must stay independent
    ("schedules-know-no-numerics", "sramflow.mapping.lower", "sramflow.reference.kernels"),
    ("funcsim-executes-a-given-int8-graph", "sramflow.funcsim.run", "sramflow.flow.calibration"),
    ("int8-core-works-on-graphs", "sramflow.quant.calibrate", "sramflow.data.dataset"),
    ("training-knows-no-hardware", "sramflow.train.loop", "sramflow.hw.spec"),
    ("no-file-cycles", "sramflow.reference.nhwc", "sramflow.reference.kernels"),
])
def test_each_contract_catches_a_wrong_import(sramflow_graph: grimp.ImportGraph, contract_id: str, importer: str,
                                              imported: str) -> None:
    """The contracts are not vacuous: one added import that breaks the rule is reported."""
    contract = _contract(contract_id)
    assert contract.check(deepcopy(sramflow_graph), verbose=False).kept  # (a check drops its ignored imports)
    graph = deepcopy(sramflow_graph)
    graph.add_import(importer=importer, imported=imported, line_number=1, line_contents=f"import {imported}")
    assert not contract.check(graph, verbose=False).kept
