"""scripts/gpu_pack.py: the float16 trip back from a GPU machine loses no more than float16 rounding, and says so."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).parents[1]
_spec = importlib.util.spec_from_file_location("gpu_pack", ROOT / "scripts" / "gpu_pack.py")
gpu_pack = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpu_pack)


def _sd() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {"features.0.0.weight": torch.randn(8, 3, 3, 3, generator=g) * 0.1,
            "features.0.1.running_var": torch.rand(8, generator=g) * 1e-6 + 1e-7,  # below float16's normal range
            "features.0.1.num_batches_tracked": torch.tensor(5)}


def test_half_rounds_only_weights_and_expand_restores_float32(tmp_path: Path) -> None:
    sd = _sd()
    save_file(sd, str(tmp_path / "c.safetensors"), metadata={"resolution": "224", "classes": "a,b"})
    gpu_pack.main([str(tmp_path / "c.safetensors"), str(tmp_path / "h.safetensors"), "--half"])
    half = load_file(str(tmp_path / "h.safetensors"))
    assert half["features.0.0.weight"].dtype == torch.float16
    assert torch.equal(half["features.0.1.running_var"], sd["features.0.1.running_var"])  # kept exactly
    gpu_pack.main([str(tmp_path / "h.safetensors"), str(tmp_path / "x.safetensors"), "--expand"])
    back = load_file(str(tmp_path / "x.safetensors"))
    assert all(v.dtype == sd[k].dtype for k, v in back.items())
    w, w0 = back["features.0.0.weight"], sd["features.0.0.weight"]
    assert not torch.equal(w, w0) and torch.allclose(w, w0, rtol=2**-11, atol=2**-24)
    with safe_open(str(tmp_path / "x.safetensors"), "pt") as f:
        meta = f.metadata()
    assert meta["resolution"] == "224" and meta["rounded"].startswith("float16")


def test_a_stopped_stage_gives_its_last_finished_epoch(tmp_path: Path) -> None:
    sd = _sd()
    state = {**{f"model.{k}": v for k, v in sd.items()}, "opt.exp_avg.0": torch.zeros(3)}
    (tmp_path / "base").mkdir()
    save_file(state, str(tmp_path / "base" / "train-state.safetensors"),
              metadata={"state": json.dumps({"stage": "base", "epoch": 3, "config": {"resolution": 224}})})
    save_file(sd, str(tmp_path / "base" / "efficientnet_b0_ham10000.safetensors"))  # an earlier epoch's: not taken
    gpu_pack.main([str(tmp_path / "base"), str(tmp_path / "p.safetensors")])
    got = load_file(str(tmp_path / "p.safetensors"))
    assert set(got) == set(sd) and all(torch.equal(got[k], sd[k].float() if sd[k].is_floating_point() else sd[k])
                                       for k in sd)
    with safe_open(str(tmp_path / "p.safetensors"), "pt") as f:
        meta = f.metadata()
    assert "epoch 3" in meta["partial"] and meta["resolution"] == "224"
