"""Generic image-folder data set: ``root/<class name>/**/<image>``; the class is the subfolder name.

Class order is the sorted subfolder names unless ``class_names`` is given (e.g. the HAM10000 labels,
so that class indices match a model's outputs); a subfolder not in ``class_names`` is an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sramflow.data.dataset import Item
from sramflow.data.preprocess import IMAGE_SUFFIXES
from sramflow.errors import DataError


@dataclass(frozen=True)
class ImageFolder:
    root: Path
    class_names: tuple[str, ...]
    items: tuple[Item, ...]


def load_image_folder(root: str | Path, class_names: Sequence[str] | None = None) -> ImageFolder:
    r = Path(root)
    if not r.is_dir():
        raise DataError(f"{r}: image folder does not exist")
    subdirs = sorted(p for p in r.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subdirs:
        raise DataError(f"{r}: no class subfolders (expected {r}/<class>/<image>)")
    names = tuple(class_names) if class_names is not None else tuple(p.name for p in subdirs)
    unknown = [p.name for p in subdirs if p.name not in names]
    if unknown:
        raise DataError(f"{r}: subfolder(s) {', '.join(unknown)} are not classes of the model ({', '.join(names)})")
    items: list[Item] = []
    for d in subdirs:
        label = names.index(d.name)
        for p in sorted(d.rglob("*")):
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
                items.append(Item(str(p.relative_to(r)), p, label))
    if not items:
        raise DataError(f"{r}: no images ({', '.join(IMAGE_SUFFIXES)}) in its class subfolders")
    return ImageFolder(r, names, tuple(items))


def is_ham10000(root: str | Path) -> bool:
    """True when ``root`` holds a HAM10000 metadata CSV (otherwise treat it as an image folder)."""
    r = Path(root)
    return r.is_dir() and ((r / "HAM10000_metadata.csv").is_file() or any("metadata" in p.name.lower() for p in r.glob("*.csv")))
