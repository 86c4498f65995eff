"""Quantization-aware fine-tuning (QAT) of a trained checkpoint, mirroring the integer pipeline.

The integer reference (``sramflow.quant``, TFLite int8 spec) folds every BatchNorm into its conv,
quantizes weights per output channel (symmetric int8, [-127, 127], scale max|w|/127) and every
activation tensor per tensor (asymmetric int8 over a calibrated range that includes 0). This stage
simulates exactly those roundings in the float forward pass (straight-through estimator), so the
weights learn to live with per-tensor activation grids:

- Conv + BN: BN is frozen (running statistics, as folding uses them) and folded into the conv; the
  folded weight is fake-quantized per output channel; the conv output is fake-quantized.
- SiLU = Sigmoid then Mul: the sigmoid output on the fixed LOGISTIC grid (scale 1/256, zero point
  -128), the product on its own range.
- SE: global-average-pool output, fc1 / fc2 outputs, SiLU as above, sigmoid gate at 1/256, the
  channel multiply; residual Add outputs; the final pool and the classifier (per-channel weights).
- The input image tensor.

Activation ranges: per-tensor percentile (99.99, as ``sramflow.quant.calibrate``) of a random sample
of each batch's values (512 per image), started as the mean over a few training batches, then an
exponential moving average during training. Only the weights are saved: ``sramflow evaluate`` and
``sramflow run`` calibrate their own ranges, so the checkpoint stays an ordinary float32 state dict.

The fake-quant wiring replaces ``forward`` on the module *instances* (no new submodules, no new
state-dict keys); :func:`remove_fake_quant` restores the class forwards. ``with float_forward(state):``
runs the plain float forward (class forwards, observers untouched) on the same weights, for a loss on
both the float and the fake-quant pass (``--qat-float-weight``).
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sramflow.ir.precision import check_layer_names, weight_bits_of
from sramflow.models.efficientnet import ConvNormAct, EfficientNet, MBConv, SqueezeExcitation, padded_input
from sramflow.quant.weight_bits import quantize_weights_bits

PERCENTILE = 99.99
SAMPLES_PER_IMAGE = 512
LOGISTIC_SCALE = 1.0 / 256.0


def _ste(x: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Forward q, gradient of identity (straight-through estimator)."""
    return x + (q - x).detach()


def fake_quant_range(x: torch.Tensor, lo: float | torch.Tensor, hi: float | torch.Tensor) -> torch.Tensor:
    """Asymmetric int8 over [lo, hi] (widened to include 0), as ``qparams_from_range``, STE gradient.

    ``lo`` and ``hi`` may be 0-dim tensors on ``x``'s device (the observers' ranges): then scale and zero
    point are computed there too and nothing waits for the device.
    """
    lo_t = torch.as_tensor(lo, dtype=torch.float32, device=x.device).clamp(max=0.0)
    hi_t = torch.as_tensor(hi, dtype=torch.float32, device=x.device).clamp(min=0.0)
    scale = ((hi_t - lo_t) / 255.0).clamp(min=1e-8)
    zp = torch.round(-128.0 - lo_t / scale).clamp(-128.0, 127.0)
    q = torch.clamp(torch.round(x.detach() / scale) + zp, -128.0, 127.0)
    return _ste(x, (q - zp) * scale)


def fake_quant_sigmoid(s: torch.Tensor) -> torch.Tensor:
    """The LOGISTIC output grid: scale 1/256, zero point -128, i.e. k/256 for k in 0..255."""
    q = torch.clamp(torch.round(s.detach() / LOGISTIC_SCALE), 0.0, 255.0)
    return _ste(s, q * LOGISTIC_SCALE)


def fake_quant_weight(w: torch.Tensor, bits: int = 8) -> torch.Tensor:
    """Per-output-channel symmetric (axis 0), STE gradient.

    8 bits: scale max|w| / 127, values in [-127, 127] (torch rounding, as this stage always did). 4 bits: the
    integer pipeline's own quantizer (``quantize_weights_bits``: [-7, 7], float32 scale max|w| / 7, rounding half
    away from zero in float64) on the host, so the fake-quant weights are its dequantized weights bit for bit and
    the grid cannot drift from what ``sramflow quantize --weight-bits`` produces.
    """
    if bits != 8:
        q, scales = quantize_weights_bits(w.detach().cpu().numpy(), bits)
        deq = q.astype(np.float32) * scales.reshape((-1,) + (1,) * (w.ndim - 1))
        # _ste's w + (deq - w) is deq exactly: deq - w is exact by Sterbenz (|deq - w| <= scale / 2 < |w| unless
        # the code is 0, where deq - w = -w), so the forward sees the quantizer's weights bit for bit
        return _ste(w, torch.from_numpy(deq).to(w.device, w.dtype))
    flat = w.detach().reshape(w.shape[0], -1)
    scale = flat.abs().amax(dim=1).clamp_min(1e-12) / 127.0
    shape = (-1,) + (1,) * (w.ndim - 1)
    q = torch.clamp(torch.round(w.detach() / scale.view(shape)), -127.0, 127.0)
    return _ste(w, q * scale.view(shape))


def _percentiles(flat: torch.Tensor, qs: tuple[float, ...]) -> list[torch.Tensor]:
    """``torch.quantile(flat, q)`` (linear interpolation) for each q, as 0-dim tensors on ``flat``'s device.

    One sort; the ranks are computed on the host from the length, so unlike ``torch.quantile`` with a
    tensor of q (which checks q's values on the host) nothing waits for the device.
    """
    s = torch.sort(flat).values
    n = s.numel()
    out = []
    for q in qs:
        rank = np.float32(q) * np.float32(n - 1)  # in float32, as torch.quantile computes the ranks
        below = min(int(rank), n - 1)
        above = min(below + 1, n - 1)
        out.append(torch.lerp(s[below], s[above], float(rank - np.float32(below))))
    return out


class RangeObserver:
    """One activation tensor's range: percentile of a per-batch sample, EMA while ``QATState.observing``.

    The range lives on the activations' device as a tensor ``[lo, hi]``: sampling, percentile, EMA and
    fake quantization never copy a value to the host, so a GPU step does not stall once per observer.
    ``lo`` / ``hi`` read it back as floats (for logs and tests).
    """

    def __init__(self, state: QATState, name: str):
        self.state, self.name = state, name
        self.range: torch.Tensor | None = None
        self._init: list[torch.Tensor] = []

    @property
    def lo(self) -> float | None:
        return None if self.range is None else float(self.range[0])

    @property
    def hi(self) -> float | None:
        return None if self.range is None else float(self.range[1])

    def _sample_index(self, n: int, k: int, device: torch.device) -> torch.Tensor:
        """k positions drawn on the CPU generator (the same positions on any device), copied without a sync."""
        idx = torch.randint(0, n, (k,), generator=self.state.gen)
        if device.type == "cuda":
            return idx.pin_memory().to(device, non_blocking=True)
        return idx.to(device)

    def _batch_range(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.detach().reshape(-1).float()
        k = SAMPLES_PER_IMAGE * max(int(x.shape[0]), 1)
        if flat.numel() > k:
            flat = flat[self._sample_index(flat.numel(), k, flat.device)]
        lo, hi = _percentiles(flat, (1.0 - PERCENTILE / 100.0, PERCENTILE / 100.0))
        return torch.stack((lo.clamp(max=0.0), hi.clamp(min=0.0)))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        mode = self.state.mode
        if mode == "init":
            self._init.append(self._batch_range(x))
            return x  # float statistics, like calibration on the float graph
        if mode == "train":
            r = self._batch_range(x)
            m = self.state.momentum
            self.range = r if self.range is None else m * self.range + (1 - m) * r
        if self.range is None:
            return x
        return fake_quant_range(x, self.range[0], self.range[1])

    def finish_init(self) -> None:
        if self._init:
            self.range = torch.stack(self._init).mean(dim=0)
            self._init = []


class QATState:
    """The observers (not part of the model's state dict) and the mode: ``init`` | ``train`` | ``frozen``."""

    def __init__(self, momentum: float = 0.95, seed: int = 0):
        self.momentum = momentum
        self.mode = "train"
        self.gen = torch.Generator().manual_seed(seed)
        self.observers: dict[str, RangeObserver] = {}
        self.patched: list[nn.Module] = []
        self.enabled = True  # False: the patched modules run their class (float) forward

    def obs(self, name: str) -> RangeObserver:
        self.observers[name] = RangeObserver(self, name)
        return self.observers[name]

    def finish_init(self) -> None:
        for o in self.observers.values():
            o.finish_init()


def _folded_conv(seq: ConvNormAct, x: torch.Tensor, bits: int = 8) -> torch.Tensor:
    conv, bn = seq[0], seq[1]
    inv = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # frozen statistics: folding stays consistent
    w = fake_quant_weight(conv.weight * inv.view(-1, 1, 1, 1), bits)
    b = bn.bias - bn.running_mean * inv
    if conv.bias is not None:
        b = b + conv.bias * inv
    return F.conv2d(padded_input(conv, x), w, b, conv.stride, conv.padding, conv.dilation, conv.groups)


def _act(kind: nn.Module | None, y: torch.Tensor, mul_obs: RangeObserver | None) -> torch.Tensor:
    if kind is None:
        return y
    if isinstance(kind, nn.SiLU):
        assert mul_obs is not None
        return mul_obs(y * fake_quant_sigmoid(torch.sigmoid(y)))
    if isinstance(kind, nn.ReLU6):  # fused into the conv by the converter: clamps on the conv's grid
        return torch.clamp(y, 0.0, 6.0)
    raise TypeError(f"QAT: unsupported activation {type(kind).__name__}")


def _patch(state: QATState, mod: nn.Module, fn: Callable) -> None:
    def forward(self, x):  # noqa: ANN001, ANN202
        return fn(self, x) if state.enabled else type(self).forward(self, x)
    mod.forward = types.MethodType(forward, mod)
    state.patched.append(mod)


@contextlib.contextmanager
def float_forward(state: QATState) -> Iterator[None]:
    """Inside: the model runs its plain float forward (no fake quant, observers not updated)."""
    prev, state.enabled = state.enabled, False
    try:
        yield
    finally:
        state.enabled = prev


def conv_weight_group(model: EfficientNet, name: str, conv: nn.Conv2d) -> str:
    """The ``--weight-bits`` layer group (``sramflow.ir.precision.WEIGHT_GROUPS``) of a ConvNormAct's conv, by the
    rules ``node_group`` applies to the exported graph: the conv on the image is the stem, a conv with one group
    per input channel is depthwise, other 1x1 convs pointwise (the head conv included), the rest ``conv``."""
    if model.features[0][0] is conv:
        return "stem"
    if conv.groups > 1 and conv.groups == conv.in_channels:
        return "depthwise"
    return "pointwise" if tuple(conv.kernel_size) == (1, 1) else "conv"


def layer_groups(model: EfficientNet) -> dict[str, str]:
    """Every weighted layer's name (its conv's module path: the exported graph's node name before its ``/``,
    ``sramflow.ir.precision.layer_name``) and ``--weight-bits`` group, in module order."""
    out: dict[str, str] = {}
    for name, mod in model.named_modules():
        if isinstance(mod, ConvNormAct):
            out[f"{name}.0"] = conv_weight_group(model, name, mod[0])
        elif isinstance(mod, SqueezeExcitation):
            out[f"{name}.fc1"] = out[f"{name}.fc2"] = "se"
    out["classifier.1"] = "classifier"
    return out


def insert_fake_quant(model: EfficientNet, momentum: float = 0.95, seed: int = 0,
                      weight_bits: int | str | dict = 8) -> QATState:
    """Wire fake quantization into ``model`` in place; returns the state holding the observers.

    ``weight_bits``: a ``--weight-bits`` spec (``sramflow.ir.precision``, the parser ``sramflow quantize`` uses):
    each layer's folded weights are fake-quantized at its bits (its layer token's, else its group's; a layer's
    name is its conv's module path, as in the exported graph); SE fc1 / fc2 are group ``se``, the Linear
    ``classifier``. Activations stay int8 whatever the spec."""
    groups = layer_groups(model)
    check_layer_names(list(groups), weight_bits, "the model", "conv module paths")

    def bits_of(name: str) -> int:
        return weight_bits_of(name, groups[name], weight_bits)

    state = QATState(momentum, seed)
    for name, mod in model.named_modules():
        if isinstance(mod, ConvNormAct):
            out_obs = state.obs(f"{name}.conv")
            act = mod[2] if len(mod) > 2 else None
            mul_obs = state.obs(f"{name}.act") if isinstance(act, nn.SiLU) else None
            wb = bits_of(f"{name}.0")

            def f_cna(self, x, out_obs=out_obs, act=act, mul_obs=mul_obs, wb=wb):  # noqa: ANN001, ANN202
                return _act(act, out_obs(_folded_conv(self, x, wb)), mul_obs)
            _patch(state, mod, f_cna)
        elif isinstance(mod, SqueezeExcitation):
            o_pool, o_fc1, o_act, o_fc2, o_mul = (state.obs(f"{name}.{k}") for k in ("pool", "fc1", "act", "fc2", "mul"))

            def f_se(self, x, o_pool=o_pool, o_fc1=o_fc1, o_act=o_act, o_fc2=o_fc2, o_mul=o_mul,  # noqa: ANN001, ANN202
                     wb1=bits_of(f"{name}.fc1"), wb2=bits_of(f"{name}.fc2")):
                s = o_pool(self.avgpool(x))
                s = o_fc1(F.conv2d(s, fake_quant_weight(self.fc1.weight, wb1), self.fc1.bias))
                s = _act(self.activation, s, o_act)
                s = o_fc2(F.conv2d(s, fake_quant_weight(self.fc2.weight, wb2), self.fc2.bias))
                return o_mul(x * fake_quant_sigmoid(torch.sigmoid(s)))
            _patch(state, mod, f_se)
        elif isinstance(mod, MBConv) and mod.use_residual:
            o_add = state.obs(f"{name}.add")

            def f_mb(self, x, o_add=o_add):  # noqa: ANN001, ANN202
                return o_add(x + self.block(x))
            _patch(state, mod, f_mb)
    o_in, o_pool, o_fc = state.obs("input"), state.obs("pool"), state.obs("classifier")

    def f_net(self, x, o_in=o_in, o_pool=o_pool, o_fc=o_fc, wb=bits_of("classifier.1")):  # noqa: ANN001, ANN202
        h = o_pool(self.avgpool(self.features(o_in(x))))
        h = self.classifier[0](torch.flatten(h, 1))
        lin = self.classifier[1]
        return o_fc(F.linear(h, fake_quant_weight(lin.weight, wb), lin.bias))
    _patch(state, model, f_net)
    return state


def init_ranges(model: nn.Module, state: QATState, inputs: Iterable[torch.Tensor], then: str = "train") -> None:
    """Start every observer's range as the mean over ``inputs`` of the float statistics, then switch to ``then``."""
    state.mode = "init"
    with torch.no_grad():
        for x in inputs:
            model(x)
    state.finish_init()
    state.mode = then


def remove_fake_quant(state: QATState) -> None:
    for mod in state.patched:
        del mod.forward
    state.patched = []


def freeze_bn(model: nn.Module) -> None:
    """BN in eval mode (running statistics) and its statistics never updated; dropout stays as the mode says."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
