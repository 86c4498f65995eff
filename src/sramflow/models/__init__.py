"""Built-in model definitions and safe checkpoint loading (imports torch lazily)."""

MODEL_NAMES = ("efficientnet_b0", "efficientnet_lite0")
