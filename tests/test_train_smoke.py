"""The training command end to end on a tiny synthetic HAM10000 (1 epoch, 32 px): the checkpoint loads."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from helpers.ham import write_ham
from helpers.lite0 import needs_lite0
from sramflow.data.ham10000 import read_split
from sramflow.eval.evaluate import checkpoint_header
from sramflow.models.checkpoint import load_checkpoint
from sramflow.models.efficientnet import build_model
from sramflow.train.__main__ import main
from sramflow.train.pretrained import init_from_lite0


@needs_lite0
def test_lite0_init_copies_all_convs_into_b0() -> None:
    m = build_model("efficientnet_b0", 7)
    skipped = init_from_lite0(m, "efficientnet_b0")
    assert all(".fc1." in k or ".fc2." in k or k.startswith("classifier") for k in skipped)
    se = m.features[2][0].block[2]
    assert torch.all(se.fc2.bias == 4.0)


@needs_lite0
def test_train_one_epoch(tmp_path: Path) -> None:
    write_ham(tmp_path / "d", 56)
    out = tmp_path / "w"
    rc = main(["--data", str(tmp_path / "d"), "--model", "efficientnet_lite0", "--resolution", "32", "--epochs", "1",
               "--batch-size", "8", "--warmup-steps", "1", "--threads", "1", "--out", str(out),
               "--split-file", str(out / "split.json")])
    assert rc == 0
    ckpt = out / "efficientnet_lite0_ham10000.safetensors"
    loaded = load_checkpoint(ckpt)
    assert loaded.info.model == "efficientnet_lite0" and loaded.info.num_classes == 7
    assert checkpoint_header(str(ckpt))["resolution"] == "32"
    doc = json.loads((out / "efficientnet_lite0_ham10000.metrics.json").read_text())
    assert len(doc["epochs"]) == 1 and "test" in doc["result"]
    assert sum(read_split(out / "split.json").counts().values()) == 56
