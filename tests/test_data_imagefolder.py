from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sramflow.data.imagefolder import is_ham10000, load_image_folder
from sramflow.errors import DataError


def _img(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)


def test_classes_from_subfolders(tmp_path: Path) -> None:
    _img(tmp_path / "nv" / "a.jpg")
    _img(tmp_path / "mel" / "x" / "b.png")
    (tmp_path / "mel" / "notes.txt").write_text("skip me")
    f = load_image_folder(tmp_path)
    assert f.class_names == ("mel", "nv")
    assert [(i.name, i.label) for i in f.items] == [("mel/x/b.png", 0), ("nv/a.jpg", 1)]
    g = load_image_folder(tmp_path, class_names=("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"))
    assert [i.label for i in g.items] == [4, 5]
    assert not is_ham10000(tmp_path)


def test_bad_folders(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_image_folder(tmp_path / "nope")
    with pytest.raises(DataError, match="no class subfolders"):
        load_image_folder(tmp_path)
    _img(tmp_path / "cat" / "a.jpg")
    with pytest.raises(DataError, match="cat.*not classes"):
        load_image_folder(tmp_path, class_names=("nv", "mel"))
    (tmp_path / "cat" / "a.jpg").unlink()
    with pytest.raises(DataError, match="no images"):
        load_image_folder(tmp_path)
