"""Built-in model definitions and safe checkpoint loading (imports torch lazily)."""

from sramflow.models.arch import MODEL_NAMES

__all__ = ["MODEL_NAMES"]
