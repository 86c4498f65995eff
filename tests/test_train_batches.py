"""Training batches: the split preprocessing equals the one definition, batches do not depend on the number of
augmentation workers, a data copy without test images trains, and a missing GPU is a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers.ham import write_ham
from helpers.lite0 import needs_lite0
from sramflow.data.ham10000 import load_ham10000, make_split, write_split
from sramflow.data.preprocess import normalize, normalize_torch, resize_rgb, to_array
from sramflow.errors import DataError
from sramflow.train.loop import Augmenter, draw_tasks, resolve_device, to_device


def _images(n: int) -> list[Image.Image]:
    rng = np.random.default_rng(1)
    return [Image.fromarray(rng.integers(0, 256, (15 + k, 20, 3), dtype=np.uint8)) for k in range(n)]


def test_normalize_torch_equals_numpy_bit_for_bit() -> None:
    u = np.stack([resize_rgb(im, 24) for im in _images(3)])
    assert u.dtype == np.uint8 and u.shape == (3, 24, 24, 3)
    ref = normalize(u)
    assert np.array_equal(to_device(u, torch.device("cpu")).contiguous().numpy(), ref)
    assert np.array_equal(normalize_torch(torch.from_numpy(u)).numpy(), ref)
    assert np.array_equal(ref[1], to_array(_images(3)[1], 24))  # to_array = normalize(resize_rgb)


def test_batches_do_not_depend_on_workers() -> None:
    images = _images(10)
    weights = np.full(10, 0.1)
    tasks = draw_tasks(np.random.default_rng(0), weights, steps=3, batch_size=4)
    assert [len(i) for i, _ in tasks] == [4, 4, 4] and all(len(s) == 4 for _, s in tasks)
    with Augmenter(images, 16, 0) as a0:
        inline = list(a0.batches(tasks))
    with Augmenter(images, 16, 2) as a2:
        forked = list(a2.batches(tasks))
    assert len(inline) == 3 and all(np.array_equal(x, y) for x, y in zip(inline, forked))
    assert inline[0].shape == (4, 16, 16, 3) and inline[0].dtype == np.uint8
    again = draw_tasks(np.random.default_rng(0), weights, steps=3, batch_size=4)
    assert all(np.array_equal(i, j) and np.array_equal(s, t) for (i, s), (j, t) in zip(tasks, again))


def test_resolve_device() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(DataError, match="--device cuda.*no CUDA GPU"):
            resolve_device("cuda")


@pytest.mark.slow
@needs_lite0
def test_train_without_test_images_with_workers(tmp_path: Path) -> None:
    """A data copy without the test split's images (as sent to a lent GPU) trains; test is reported as not evaluated."""
    from sramflow.train.__main__ import main
    write_ham(tmp_path / "d", 42, per_lesion=1)  # 6 lesions per class: train 28, val 7, test 7 images
    split = make_split(load_ham10000(tmp_path / "d").samples, 0)
    write_split(split, tmp_path / "split.json")
    for image_id in split.ids["test"]:
        (tmp_path / "d" / "imgs" / f"{image_id}.jpg").unlink()
    out = tmp_path / "w"
    rc = main(["--data", str(tmp_path / "d"), "--model", "efficientnet_lite0", "--resolution", "32", "--epochs", "1",
               "--batch-size", "8", "--warmup-steps", "1", "--threads", "1", "--workers", "2", "--device", "cpu",
               "--out", str(out), "--split-file", str(tmp_path / "split.json")])
    assert rc == 0
    doc = json.loads((out / "efficientnet_lite0_ham10000.metrics.json").read_text())
    assert split.ids["test"] and doc["result"]["test"] is None and doc["result"]["val"]["n_images"] > 0
    assert doc["config"]["workers"] == 2 and doc["config"]["device"] == "cpu"


@pytest.mark.slow
@needs_lite0
def test_train_on_train_and_val_refits_without_selection(tmp_path: Path) -> None:
    """--train-on train+val: val joins both stages' training data; the last epoch is kept and no tau is fitted."""
    from sramflow.train.__main__ import main
    write_ham(tmp_path / "d", 42, per_lesion=1)  # 6 lesions per class: train 28, val 7, test 7 images
    split = make_split(load_ham10000(tmp_path / "d").samples, 0)
    write_split(split, tmp_path / "split.json")
    n_fit = len(split.ids["train"]) + len(split.ids["val"])
    common = ["--data", str(tmp_path / "d"), "--model", "efficientnet_lite0", "--resolution", "32", "--batch-size", "8",
              "--threads", "1", "--device", "cpu", "--split-file", str(tmp_path / "split.json"), "--train-on", "train+val"]
    base = tmp_path / "base"
    assert main([*common, "--epochs", "2", "--warmup-steps", "1", "--out", str(base)]) == 0
    doc = json.loads((base / "efficientnet_lite0_ham10000.metrics.json").read_text())
    assert doc["result"]["train_images"] == n_fit and doc["result"]["train_on"] == "train+val"
    assert doc["result"]["best_epoch"] == 2 and doc["result"]["logit_adjust_tau"] == 0.0
    assert doc["result"]["val_in_training_data"] is True
    assert len(doc["epochs"]) == 2
    qat = tmp_path / "qat"
    assert main([*common, "--qat-from", str(base / "efficientnet_lite0_ham10000.safetensors"), "--qat-epochs", "0.5",
                 "--out", str(qat)]) == 0
    doc = json.loads((qat / "efficientnet_lite0_ham10000.metrics.json").read_text())
    assert doc["qat"]["train_images"] == n_fit and doc["qat"]["steps"] == round(0.5 * n_fit / 8)
    assert doc["qat"]["val_in_training_data"] is True


def test_train_on_rejects_test() -> None:
    from sramflow.errors import DataError
    from sramflow.train.loop import training_parts

    assert training_parts("train+val") == ("train", "val")
    with pytest.raises(DataError, match="train_on 'train\\+test'"):
        training_parts("train+test")


def test_keep_rejects_unknown_value_before_any_data_work(tmp_path: Path) -> None:
    from sramflow.train.loop import TrainConfig, train

    with pytest.raises(DataError, match="keep 'best': expected one of best-val, last"):
        train(TrainConfig(data=str(tmp_path / "no-such-folder"), keep="best"))


@pytest.mark.slow
@needs_lite0
def test_keep_last_epoch_without_logit_adjustment(tmp_path: Path) -> None:
    """--keep last --no-logit-adjust: nothing is chosen on val (cross-validation folds score on it)."""
    from sramflow.train.__main__ import main
    write_ham(tmp_path / "d", 42, per_lesion=1)  # 6 lesions per class: train 28, val 7, test 7 images
    write_split(make_split(load_ham10000(tmp_path / "d").samples, 0), tmp_path / "split.json")
    out = tmp_path / "w"
    assert main(["--data", str(tmp_path / "d"), "--model", "efficientnet_lite0", "--resolution", "32", "--batch-size", "8",
                 "--threads", "1", "--device", "cpu", "--split-file", str(tmp_path / "split.json"), "--epochs", "3",
                 "--warmup-steps", "1", "--keep", "last", "--no-logit-adjust", "--out", str(out)]) == 0
    doc = json.loads((out / "efficientnet_lite0_ham10000.metrics.json").read_text())
    assert doc["result"]["best_epoch"] == 3 and doc["result"]["logit_adjust_tau"] == 0.0
    assert doc["result"]["val_in_training_data"] is False and doc["config"]["keep"] == "last"
