"""``--resume``: a run stopped after any epoch and resumed ends bit for bit where the uninterrupted run ends
(base stage with EMA and best-epoch selection, and the QAT stage); a state is read without unpickling; a
missing, finished or different run's state is a clear error naming what differs."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from helpers.ham import write_ham
from helpers.lite0 import needs_lite0
from sramflow.data.ham10000 import load_ham10000, make_split, write_split
from sramflow.models.efficientnet import build_model
from sramflow.train.__main__ import main
from sramflow.train.loop import TrainConfig, _lr_lambda, checkpoint_metadata, save_safetensors
from sramflow.train.state import STATE_NAME, EMA, ResumeError, read_state

CKPT = "efficientnet_lite0_ham10000.safetensors"
METRICS = "efficientnet_lite0_ham10000.metrics.json"


@pytest.fixture(scope="module")
def ham(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("ham")
    write_ham(root / "d", 42, per_lesion=1)  # 6 lesions per class: train 28, val 7, test 7 images (4 steps an epoch)
    write_split(make_split(load_ham10000(root / "d").samples, 0), root / "split.json")
    return root / "d", root / "split.json"


def _base_args(ham: tuple[Path, Path], *extra: str) -> list[str]:
    data, split = ham
    return ["--data", str(data), "--model", "efficientnet_lite0", "--resolution", "32", "--batch-size", "8",
            "--epochs", "3", "--warmup-steps", "2", "--threads", "1", "--device", "cpu", "--split-file", str(split),
            "--ema", "0.9", "--lr-min-ratio", "0.05", *extra]


def _same_tensors(a: Path, b: Path) -> None:
    ta, tb = load_file(str(a)), load_file(str(b))
    assert ta.keys() == tb.keys()
    differ = [k for k in ta if not torch.equal(ta[k], tb[k])]
    assert not differ, f"{len(differ)} tensors differ, e.g. {differ[:3]}"


def _without_times(doc: dict) -> dict:
    """The metrics JSON less what measures the clock or counts sittings (and the config's out folder)."""
    doc = json.loads(json.dumps(doc))
    for k in ("wall_time_s", "sittings"):
        doc.pop(k, None)
    doc["config"].pop("out")
    for e in doc["epochs"]:
        e.pop("train_s")
    return doc


@needs_lite0
def test_base_interrupted_and_resumed_equals_uninterrupted(tmp_path: Path, ham: tuple[Path, Path]) -> None:
    """3 epochs at once, or 1 + 1 + 1 over three processes' worth of calls: the same checkpoint, bit for bit.

    CPU, 1 thread: every operation is deterministic, so equality is exact (on a GPU, cudnn's autotuned
    algorithms make even two uninterrupted runs differ in the last bits).
    """
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    mix = ("--mixup", "0.2", "--cutmix", "1.0")  # their draws come from the generator the state restores
    assert main([*_base_args(ham, *mix), "--out", str(whole)]) == 0
    assert not (whole / STATE_NAME).exists()  # finished: nothing to resume

    assert main([*_base_args(ham, *mix), "--out", str(parts), "--epochs-this-sitting", "1"]) == 0
    saved = read_state(parts, "base")
    assert saved.info["epoch"] == 1 and saved.info["ema_updates"] > 0 and any(k.startswith("ema.") for k in saved.tensors)
    assert json.loads((parts / METRICS).read_text())["result"] is None
    assert main([*_base_args(ham, *mix), "--resume", str(parts), "--epochs-this-sitting", "1"]) == 0
    assert read_state(parts, "base").info["epoch"] == 2
    assert main([*_base_args(ham, *mix), "--resume", str(parts)]) == 0
    assert not (parts / STATE_NAME).exists()

    _same_tensors(whole / CKPT, parts / CKPT)
    a, b = (json.loads((d / METRICS).read_text()) for d in (whole, parts))
    assert b["sittings"] == 3 and a["sittings"] == 1
    assert _without_times(a) == _without_times(b)  # history, best epoch, tau and every val/test figure
    assert a["config"]["ema_decay"] == 0.9 and a["config"]["lr_min_ratio"] == 0.05
    assert (a["config"]["mixup_alpha"], a["config"]["cutmix_alpha"]) == (0.2, 1.0)


def test_a_state_older_than_an_option_resumes_with_the_option_off() -> None:
    from sramflow.train.state import SavedState, check_same_run

    now = asdict(TrainConfig(data="d"))
    old = {k: v for k, v in now.items() if k not in ("mixup_alpha", "cutmix_alpha")}  # written before mixup existed
    saved = SavedState(Path("s"), {}, {"config": old, "data_key": {}})
    assert check_same_run(saved, now, {}, asdict(TrainConfig(data="d"))) == []
    with pytest.raises(ResumeError, match="mixup_alpha=0.0.*this command has mixup_alpha=0.2"):
        check_same_run(saved, {**now, "mixup_alpha": 0.2}, {}, asdict(TrainConfig(data="d")))


@needs_lite0
def test_killed_before_the_checkpoint_write_resumes_from_the_state(tmp_path: Path, ham: tuple[Path, Path]) -> None:
    """The state is written before the best checkpoint: a run killed between the two rewrites it on resume."""
    out = tmp_path / "w"
    assert main([*_base_args(ham), "--out", str(out), "--epochs-this-sitting", "2"]) == 0
    (out / CKPT).unlink()  # as if killed after the state write
    assert main([*_base_args(ham), "--resume", str(out), "--epochs-this-sitting", "1"]) == 0
    assert (out / CKPT).is_file()


@pytest.mark.slow
@needs_lite0
def test_resume_errors_name_the_cause(tmp_path: Path, ham: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([*_base_args(ham), "--resume", str(empty)]) == 2
    assert "no training state (train-state.safetensors)" in capsys.readouterr().err
    assert main([*_base_args(ham), "--resume", str(tmp_path / "nowhere")]) == 2
    assert "no such directory" in capsys.readouterr().err

    out = tmp_path / "w"
    assert main([*_base_args(ham), "--out", str(out), "--epochs-this-sitting", "1"]) == 0
    capsys.readouterr()
    assert main([*_base_args(ham, "--resolution", "40"), "--resume", str(out)]) == 2
    err = capsys.readouterr().err
    assert "resolution=32" in err and "resolution=40" in err
    assert main([*_base_args(ham, "--epochs", "4"), "--resume", str(out)]) == 2
    assert "epochs=3" in capsys.readouterr().err
    assert main([*_base_args(ham, "--ema", "0"), "--resume", str(out)]) == 2
    assert "ema_decay=0.9" in capsys.readouterr().err
    # the QAT stage does not take a base stage's state
    qat_args = [a for a in _base_args(ham) if a not in ("--ema", "0.9", "--lr-min-ratio", "0.05")]
    assert main([*qat_args, "--qat-from", str(out / CKPT), "--resume", str(out)]) == 2
    assert "written by the base stage" in capsys.readouterr().err
    # --threads may change between sittings; the run then finishes and has nothing left to resume
    assert main([*_base_args(ham, "--threads", "2"), "--resume", str(out)]) == 0
    capsys.readouterr()
    assert main([*_base_args(ham), "--resume", str(out)]) == 2
    assert "has finished" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*_base_args(ham), "--resume", str(out), "--out", str(tmp_path / "elsewhere")])
    assert "--out" in capsys.readouterr().err


def test_state_is_not_a_pickle_and_a_torn_file_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / STATE_NAME).write_bytes(b"\x80\x04not a safetensors file")
    with pytest.raises(ResumeError, match="not a readable training state"):
        read_state(bad, "base")


def test_ema_follows_the_model_with_warm_up() -> None:
    m = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        m.weight.fill_(0.0)
    ema = EMA(m, 0.5)
    with torch.no_grad():
        m.weight.fill_(1.0)
    ema.update(m)  # d = min(0.5, 2 / 11)
    assert torch.allclose(ema.module.weight, torch.full((1, 2), 9 / 11))
    assert not ema.module.weight.requires_grad


def test_cosine_floor() -> None:
    f = _lr_lambda(100, 10, 0.05)
    assert f(0) == pytest.approx(0.1) and f(10) == 1.0 and f(100) == pytest.approx(0.05) and f(500) == pytest.approx(0.05)
    assert _lr_lambda(100, 10)(100) == pytest.approx(0.01)  # the default floor, as before


@pytest.mark.slow
def test_qat_interrupted_and_resumed_equals_uninterrupted(tmp_path: Path, ham: tuple[Path, Path]) -> None:
    """QAT (fake-quant ranges, their sampling generator, distillation, float + fake-quant loss) over 2.5 epochs
    at once, or stopped after 1 epoch and resumed: the same weights, bit for bit."""
    data, split = ham
    base = tmp_path / "base.safetensors"
    save_safetensors(build_model("efficientnet_b0", 7), base, checkpoint_metadata(TrainConfig(data="", resolution=32)))
    args = ["--data", str(data), "--qat-from", str(base), "--qat-epochs", "2.5", "--resolution", "32", "--batch-size", "8",
            "--lr", "1e-3", "--qat-distill", "0.5", "--qat-float-weight", "0.5", "--threads", "1", "--device", "cpu",
            "--split-file", str(split)]
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert main([*args, "--out", str(whole)]) == 0
    assert main([*args, "--out", str(parts), "--epochs-this-sitting", "1"]) == 0
    saved = read_state(parts, "qat")
    assert 0 < saved.info["step"] < json.loads((whole / "efficientnet_b0_ham10000.metrics.json").read_text())["qat"]["steps"]
    assert any(k.startswith("obs.") for k in saved.tensors)
    assert main([*args, "--resume", str(parts)]) == 0
    assert not (parts / STATE_NAME).exists()
    _same_tensors(whole / "efficientnet_b0_ham10000.safetensors", parts / "efficientnet_b0_ham10000.safetensors")
    a, b = (json.loads((d / "efficientnet_b0_ham10000.metrics.json").read_text())["qat"] for d in (whole, parts))
    for k in ("val_before", "val_fake_quant", "val", "steps"):
        assert a[k] == b[k]
    assert b["sittings"] == 2


def test_other_training_images_or_qat_start_are_named() -> None:
    from sramflow.train.state import SavedState, check_same_run, data_key

    cfg = {"model": "efficientnet_b0", "threads": 2, "out": "a/"}
    key = data_key(["ISIC_1", "ISIC_2"], [0, 1], 5)
    saved = SavedState(Path("a/train-state.safetensors"), {}, {"config": cfg, "data_key": {**key, "qat_from_sha256": "ab"}})
    # threads may change (reported), out is the folder the state was read from however spelled
    assert check_same_run(saved, {**cfg, "threads": 1, "out": "a"}, {**key, "qat_from_sha256": "ab"}) == ["threads: 2 -> 1"]
    with pytest.raises(ResumeError, match="hash of the training image ids and labels differs"):
        check_same_run(saved, cfg, {**data_key(["ISIC_1", "ISIC_2"], [0, 2], 5), "qat_from_sha256": "ab"})
    with pytest.raises(ResumeError, match=r"--qat-from checkpoint \(sha256\) differs .*\(ab then, cd now\)"):
        check_same_run(saved, cfg, {**key, "qat_from_sha256": "cd"})
    with pytest.raises(ResumeError, match="model='efficientnet_b0'.*model='efficientnet_lite0'"):
        check_same_run(saved, {**cfg, "model": "efficientnet_lite0"}, key)


def test_base_stage_options_are_refused_by_the_qat_stage(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["--data", "x", "--qat-from", "y.safetensors", "--ema", "0.999"])
    assert "base-stage options" in capsys.readouterr().err
