"""A checkpoint's tensors as numpy arrays, so built-in models can be lowered without torch: safetensors are read
directly; pickled formats (and bfloat16) go through torch (``models.torch_state``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sramflow.errors import CheckpointError
from sramflow.models.checkpoint_match import check_file, one_line, strip_prefixes


def read_state_numpy(path: str | Path, trust: bool = False) -> dict[str, np.ndarray]:
    """A checkpoint's tensors as numpy arrays: safetensors without torch; pickled formats through torch."""
    p = Path(path)
    check_file(p)
    if p.suffix != ".safetensors":
        return _torch_state_numpy(p, trust)
    from safetensors.numpy import load_file

    try:
        raw = load_file(str(p))
    except Exception as exc:  # safetensors raises several error types for corrupt headers (and bfloat16)
        if "bf16" in str(exc).lower() or "bfloat16" in str(exc).lower():
            return _torch_state_numpy(p, trust)
        raise CheckpointError(f"{p}: not a readable safetensors file (truncated or corrupt?): {one_line(exc)}") from None
    if not raw:
        raise CheckpointError(f"{p}: holds no state dict (found dict)")
    return strip_prefixes(raw)


def _torch_state_numpy(p: Path, trust: bool) -> dict[str, np.ndarray]:
    """Formats numpy cannot read alone (pickles, bfloat16): through torch, floats widened to float32."""
    from sramflow.models.torch_state import read_state_dict

    return {k: (v.float() if v.is_floating_point() else v).detach().cpu().numpy()
            for k, v in read_state_dict(p, trust).items()}
