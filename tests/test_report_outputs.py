"""A small `sramflow run` through the CLI: every JSON output validates against its shipped schema and carries its
provenance; the page shows the hardware sources, the sensitivity, computed claims and honest labels."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import jsonschema
import pytest

from sramflow.cli import main
from sramflow.jsonio import make_provenance, provenance_scope, write_json_atomic
from sramflow.report.claims import RunContext, check_claims
from sramflow.report.deployment import DeploymentConfig, battery_sentence, deployment_figures
from sramflow.report.inputs import checkpoint_accuracy, wilson_interval
from sramflow.report.jsonschemas import schema_for

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    o = tmp_path_factory.mktemp("run")
    rc = main(["run", "--model", "efficientnet_lite0", "--num-classes", "7", "--resolution", "32", "--out", str(o),
               "--no-host-baseline", "--no-advise"])  # the section and advise/: test_run_advice.py
    assert rc == 0
    return o


def test_every_json_output_validates_and_has_provenance(out: Path) -> None:
    files = sorted(out.glob("*.json"))
    assert len(files) >= 10
    for f in files:
        doc = json.loads(f.read_text())
        jsonschema.validate(doc, schema_for(f.name), cls=jsonschema.Draft202012Validator)
        prov = doc["provenance"]
        assert prov["command"].startswith("sramflow run --model efficientnet_lite0"), f.name
        hw = prov["inputs"]["hardware"]
        assert hw["sha256"] == hashlib.sha256(Path(hw["path"]).read_bytes()).hexdigest()


def test_schema_rejects_a_document_without_provenance(out: Path) -> None:
    doc = json.loads((out / "inference_simulator_report.json").read_text())
    del doc["provenance"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema_for("inference_simulator_report.json"))


def test_functional_report_names_its_random_input(out: Path) -> None:
    f = json.loads((out / "functional_report.json").read_text())
    assert "random standard-normal" in f["input"]


def test_page_shows_sources_sensitivity_and_honest_labels(out: Path) -> None:
    page = (out / "report.html").read_text()
    md = (out / "INTEGRATION_SUMMARY.md").read_text()
    for text in (page, md):
        assert "APS6404L-3SQR" in text and "594.2 - 1546.1" in text  # the off-chip level, its source and range
        assert "Sensitivity: over the stated ranges" in text
        assert "EfficientNet-B0" not in text  # claims computed from the model that ran
        assert "on 4 random standard-normal inputs" in text
        assert "needs --data" in text  # accuracy row present without --data
        assert "cannot deliver" in text  # 0.2 mA coin cell vs the run's current
    assert (out / "plots" / "offchip_per_group.png").stat().st_size > 0  # without and with fusion, per group
    assert "off-chip bytes per group" in page
    assert "{'" not in page  # no raw Python dict text
    assert not re.search(r"<thead><tr>(<th></th>)+</tr></thead>", page)
    assert page.count("<table>") == page.count('<div class="scroll"><table>')
    assert 'name="viewport"' in page


def test_provenance_only_inside_a_scope(tmp_path: Path) -> None:
    write_json_atomic(tmp_path / "a.json", {"x": 1})
    with provenance_scope(make_provenance("cmd")):
        write_json_atomic(tmp_path / "b.json", {"x": 1})
    assert "provenance" not in json.loads((tmp_path / "a.json").read_text())
    assert json.loads((tmp_path / "b.json").read_text())["provenance"]["command"] == "cmd"


def test_claims_are_computed_for_the_model_that_ran() -> None:
    ctx = RunContext("tinynet", 96, 1_000_000, 200_000, 16, 100.0, 16, 4.4, "ref", 0.0398626, "vendor")
    text = " ".join(c.implied for c in check_claims(ctx=ctx))
    assert "tinynet has 1.00 MB" in text and "tinynet@96" in text and "EfficientNet" not in text
    assert "57,698x" in text  # 2.3 mW / 39.8626 nW


def test_battery_peak_current_against_rating() -> None:
    d = deployment_figures(6000.0, 180.0, 600.0, DeploymentConfig())  # 30 mW at 3 V = 10 mA
    assert d.peak_current_ma == pytest.approx(10.0) and not d.battery_can_deliver
    assert "cannot deliver" in battery_sentence(d, DeploymentConfig())
    ok = deployment_figures(6000.0, 180.0, 600.0, DeploymentConfig(battery_max_ma=1000.0, battery_v=3.7))
    assert ok.battery_can_deliver


def test_checkpoint_figures_on_file() -> None:
    ck = checkpoint_accuracy(str(REPO / "weights" / "efficientnet_b0_ham10000.safetensors"))
    assert ck is not None and ck.n_images == 1689 and ck.trained_resolution == 128
    assert ck.float_accuracy == pytest.approx(0.787, abs=1e-3) and ck.int8_accuracy == pytest.approx(0.794, abs=1e-3)
    oof = ck.out_of_fold
    assert oof is not None and oof.n_images == 6826 and oof.int8_balanced == pytest.approx(0.663, abs=1e-3)
    assert "out of fold over 5 cross-validation folds (6,826 images): 78.7% / 79.2%" in oof.text()
    lo, hi = wilson_interval(0.5, 100)
    assert lo == pytest.approx(0.4038, abs=1e-3) and hi == pytest.approx(0.5962, abs=1e-3)
