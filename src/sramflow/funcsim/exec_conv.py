"""Execute a ``ConvSchedule`` step by step: DMA loads pack tensor regions into SRAM words, compute steps
read their operands back from the words, accumulate in int32 and requantize with the reference arithmetic
(``sramflow.reference.requant``), stores unpack result words into the off-chip tensor."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from sramflow.funcsim import layout as L
from sramflow.funcsim.pool import PoolSpec
from sramflow.funcsim.sram import FunctionalSimError
from sramflow.funcsim.state import Machine, Resident, region_dict
from sramflow.mapping.conv_schedule import ConvSchedule
from sramflow.mapping.layout import window_packed
from sramflow.mapping.schedule import Step
from sramflow.reference.requant import wrap_int32

Requant = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (acc int64 (k, g, h, w), channels (k, g)) -> int8
Residual = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (outputs int8, skip int8, same shape) -> their int8 sum


@dataclass(frozen=True)
class ConvData:
    """Off-chip data of one convolution: int8 input (C, H, W), weights (G, K, C, kh, kw), int32 bias (G, K).
    ``x_zp`` is also the value the DMA writes into the window's padding. Pooling (``pool``): no weights nor
    bias, ``x_zp`` the pool's pad value (``PoolSpec.fill``), the arithmetic of ``pool`` instead of ``requant``.
    A residual Add on the output path (``ConvShape.residual``): ``skip`` the int8 skip tensor (G x K, OH, OW) the
    skip tile loads read, ``residual`` the ADD kernel's arithmetic applied to each requantized tile and its skip
    tile read back from the SRAM. ``unwritten``: the output tiles are not stored (a fused pool is the output's only
    reader, ``mapping.epilogue.PoolPlan.stores``): the output stores are not executed, and the result is what the
    last reduction steps write (the values on the output path, which the pool adds up)."""

    x: np.ndarray
    x_zp: int
    weights: np.ndarray | None
    bias: np.ndarray | None
    requant: Requant | None
    pool: PoolSpec | None = None
    skip: np.ndarray | None = None
    residual: Residual | None = None
    unwritten: bool = False


class ConvRun:
    def __init__(self, sch: ConvSchedule, data: ConvData, m: Machine, out: np.ndarray) -> None:
        self.sch, self.d, self.m, self.out = sch, data, m, out
        sh = sch.shape
        self.wb = sch.hw.word_bytes
        self.ak, self.gh = sch.tiling.group_k, sch.tiling.group_h
        self.peb = sh.psum_bytes  # bytes of a partial sum in the SRAM / off-chip
        self.pdt = L.psum_dtype(self.peb)
        self.res: dict[str, Resident] = {}
        self.last_write: int = -1
        self.psum_tag: int = -1  # who wrote the partial sums in the output buffer (a reload or a compute step)  # tag of the compute step whose results the outputs buffer holds
        self.psum_mem: dict[tuple, np.ndarray] = {}  # off-chip partial sums by output region
        self.acc_regs: dict[tuple, np.ndarray] = {}  # partial sums held in the accumulators
        pad = max(sh.span_h, sh.span_w) + max(sh.stride_h, sh.stride_w) * (max(sh.out_h, sh.out_w) + 1)
        self.pad = pad
        self.xpad = np.pad(data.x, ((0, 0), (pad, pad), (pad, pad)), constant_values=data.x_zp)

    # ---- loads -----------------------------------------------------------------------------------------
    def load(self, st: Step) -> None:
        r = region_dict(st.region)
        packer = {"bias": self._bias_bytes, "weights": self._weight_bytes, "inputs": self._input_bytes,
                  "psums": self._psum_bytes, "skip": self._skip_bytes}.get(st.operand)
        if packer is None:
            raise FunctionalSimError(f"node {self.sch.shape.name!r}: load of unknown operand {st.operand!r}")
        raw, fetched = packer(r)
        tag = self.m.new_tag()
        n = self.m.write(st.base_word, raw, tag, f"{self.sch.shape.name}: load {st.operand}", compute=False)
        self.m.tally.offchip_read_bytes += fetched
        if n != st.sram_writes or fetched != st.offchip_bytes:
            self.m.note(f"{self.sch.shape.name}: load {st.operand} {st.region}: wrote {n} words / {fetched} B, "
                        f"step says {st.sram_writes} / {st.offchip_bytes}")
        self.res[st.operand] = Resident(tag, st.base_word, r)
        if st.operand == "psums":
            self.psum_tag = tag

    def _skip_bytes(self, r: dict) -> tuple[np.ndarray, int]:
        """The skip tile in the output tile's layout (one word-aligned block per accumulator group)."""
        sh = self.sch.shape
        if self.d.skip is None or self.d.residual is None:
            raise FunctionalSimError(f"node {sh.name!r}: skip tile load without the residual Add's skip tensor")
        (g0, g1), (k0, k1), (h0, h1), (w0, w1) = r["g"], r["k"], r["h"], r["w"]
        skip = self.d.skip.reshape(sh.groups, sh.k_per_group, sh.out_h, sh.out_w)[g0:g1, k0:k1, h0:h1, w0:w1]
        return L.pack_blocks(skip, self.ak, self.gh, self.wb, "i1"), skip.size

    def _bias_bytes(self, r: dict) -> tuple[np.ndarray, int]:
        (g0, g1), (k0, k1) = r["g"], r["k"]
        b = self.d.bias[g0:g1, k0:k1]
        return L.pack_grouped(b, self.ak, self.wb, "<i4"), b.size * 4

    def _weight_bytes(self, r: dict) -> tuple[np.ndarray, int]:
        (g0, g1), (k0, k1), (c0, c1) = r["g"], r["k"], r["c"]
        w = self.d.weights[g0:g1, k0:k1, c0:c1]
        if self.sch.shape.weight_bits == 4:  # packed two per byte off-chip and in the SRAM
            return L.pack_grouped_int4(w, self.ak, self.wb), L.ceil_div(w.size, 2)
        return L.pack_grouped(w, self.ak, self.wb, "i1"), w.size

    def _input_bytes(self, r: dict) -> tuple[np.ndarray, int]:
        sh = self.sch.shape
        (g0, g1), (c0, c1), (r0, r1), (q0, q1) = r["g"], r["c"], r["row"], r["col"]
        ch = (np.arange(g0, g1)[:, None] * sh.c_per_group + np.arange(c0, c1)[None, :]).ravel()
        p = self.pad
        win = self.xpad[ch, r0 + p:r1 + p, q0 + p:q1 + p]
        rows_in = max(0, min(r1, sh.in_h) - max(r0, 0))
        cols_in = max(0, min(q1, sh.in_w) - max(q0, 0))
        packed = bool(window_packed(self.sch, r1 - r0, q1 - q0))
        return L.pack_window(np.ascontiguousarray(win), self.wb, packed), ch.size * rows_in * cols_in

    def _psum_bytes(self, r: dict) -> tuple[np.ndarray, int]:
        key = _out_key(r)
        if key not in self.psum_mem:
            raise FunctionalSimError(f"node {self.sch.shape.name!r}: partial sums of {r} loaded back but never "
                                     "stored off-chip (a dropped spill?)")
        p = self.psum_mem[key]  # (g, k, h, w) exact partial sums
        return L.pack_blocks(p, self.ak, self.gh, self.wb, self.pdt), p.size * self.peb

    # ---- compute ---------------------------------------------------------------------------------------
    def _resident(self, operand: str) -> Resident:
        res = self.res.get(operand)
        if res is None:
            raise FunctionalSimError(f"node {self.sch.shape.name!r}: compute step needs {operand} never loaded")
        return res

    def compute(self, st: Step) -> None:
        sh, name = self.sch.shape, self.sch.shape.name
        o = region_dict(st.region)
        (g0, g1), (k0, k1), (h0, h1), (w0, w1) = o["g"], o["k"], o["h"], o["w"]
        inp = self._resident("inputs")
        c0, c1 = inp.region["c"]
        if inp.region["g"] != (g0, g1) or inp.region["row"][0] != h0 * sh.stride_h - sh.pad_top \
                or inp.region["col"][0] != w0 * sh.stride_w - sh.pad_left:
            raise FunctionalSimError(f"node {name!r}: resident input window {inp.region} does not serve output "
                                     f"tile {o}")
        wres = None if sh.pool_op else self._resident("weights")
        if wres is not None and (wres.region["g"] != (g0, g1) or wres.region["k"] != (k0, k1)
                                 or wres.region["c"] != (c0, c1)):
            raise FunctionalSimError(f"node {name!r}: resident weights {wres.region} do not match output tile {o} "
                                     f"and input channels {(c0, c1)}")
        if sh.pool_op:
            self._pool(st, inp, o)
            return
        g, k, c, h, w = g1 - g0, k1 - k0, c1 - c0, h1 - h0, w1 - w0
        first, last = c0 == 0, c1 == sh.c_per_group
        khw = sh.kernel_h * sh.kernel_w
        reads0, writes0 = self.m.tally.sram_reads_compute, self.m.tally.sram_writes_compute
        tag = self.m.new_tag()
        access = getattr(st, "psum_access", "")
        wofs = L.group_words(k, self.ak, g * c * khw, self.wb, sh.weight_bits)
        bofs = L.group_words(k, self.ak, g * 4, self.wb)
        pofs = L.block_words(k, self.ak, h, self.gh, g * w * self.peb, self.wb)
        oofs = L.block_words(k, self.ak, h, self.gh, g * w, self.wb)
        kgroups = L.group_bounds(k, self.ak)
        for j, ((a, b), (r0, r1)) in enumerate(L.block_bounds(k, self.ak, h, self.gh)):  # one accumulator group
            kg, hg, kj = b - a, r1 - r0, kgroups.index((a, b))
            rows = self.m.read(np.arange(wres.base + wofs[kj], wres.base + wofs[kj + 1]), wres.tag,
                               f"{name}: weights", compute=True)
            wshape = (g, kg, c, sh.kernel_h, sh.kernel_w)
            wt = (L.unpack_group_int4(rows, wshape) if sh.weight_bits == 4 else
                  L.unpack_group(rows, wshape, "i1")).astype(np.int64)
            wt = wt.transpose(1, 0, 2, 3, 4)
            acc = self._init_acc(st, j, (kj, kg), g, hg, w, first, o, pofs)
            acc = acc + self._macs(inp, wt, g, c, r0, hg, w)
            self.m.tally.macs += kg * g * c * khw * hg * w
            if last and sh.has_bias:  # the accumulators add the bias at the last reduction step
                bres = self._resident("bias")
                rows = self.m.read(np.arange(bres.base + bofs[kj], bres.base + bofs[kj + 1]), bres.tag,
                                   f"{name}: bias", compute=True)
                acc = acc + L.unpack_group(rows, (g, kg), "<i4").astype(np.int64).T[:, :, None, None]
            if last:
                chans = (np.arange(g0, g1)[None, :] * sh.k_per_group + np.arange(k0 + a, k0 + b)[:, None])
                q = self.d.requant(wrap_int32(acc), chans)
                if sh.residual:  # the skip tile in these words, read before the sum overwrites it
                    q = self.d.residual(q, self._skip_block(st.base_word + oofs[j], oofs[j + 1] - oofs[j], o,
                                                            (g, kg, hg, w)))
                self.m.write(st.base_word + oofs[j], L.pack_grouped(q.transpose(1, 0, 2, 3), kg, self.wb, "i1"),
                             tag, f"{name}: outputs", compute=True)
                if self.d.unwritten:  # the output path's values, for the pool that is their only reader
                    self.out[chans.ravel(), h0 + r0:h0 + r1, w0:w1] = np.asarray(q, np.int8).reshape(-1, r1 - r0, w)
            elif access in ("write", "rmw"):
                if not L.fits(acc, self.pdt):
                    raise FunctionalSimError(f"node {name!r}: a partial sum of output tile {o} does not fit "
                                             f"{self.peb} bytes")
                p = acc.transpose(1, 0, 2, 3)
                self.m.write(st.base_word + pofs[j], L.pack_grouped(p, kg, self.wb, self.pdt), tag,
                             f"{name}: psums", compute=True)
            else:
                self.acc_regs[(_out_key(o), j)] = acc
        if access in ("write", "rmw") and not last:
            self.psum_tag = tag
        if last or access in ("write", "rmw"):
            self.last_write = tag
        self._check_step(st, reads0, writes0)

    def _skip_block(self, base: int, words: int, o: dict, shape: tuple[int, int, int, int]) -> np.ndarray:
        """One accumulator group's skip block (k, g, h, w), read from the words its output block is written to (the
        SRAM checks that the skip load wrote them)."""
        res = self._resident("skip")
        if res.region != o:
            raise FunctionalSimError(f"node {self.sch.shape.name!r}: the resident skip tile {res.region} does not "
                                     f"serve output tile {o}")
        rows = self.m.read(np.arange(base, base + words), res.tag, f"{self.sch.shape.name}: skip", compute=True)
        return L.unpack_group(rows, shape, "i1").transpose(1, 0, 2, 3)

    def _init_acc(self, st: Step, j: int, kgroup: tuple[int, int], g: int, h: int, w: int, first: bool, o: dict,
                  pofs: list[int]) -> np.ndarray:
        """Accumulators of group ``j`` (``kgroup``: its k group's index and size): the partial sums it left in
        the SRAM or the accumulators, or zero at the first reduction step."""
        _, kg = kgroup
        name = self.sch.shape.name
        if getattr(st, "psum_access", "") in ("rmw", "read"):  # int32 partial sums in the output buffer
            pres = self.res.get("psums")
            if self.sch.spill_psums and (pres is None or pres.region != o):
                raise FunctionalSimError(f"node {name!r}: partial sums of output tile {o} were not reloaded "
                                         "(a dropped spill?)")
            rows = self.m.read(np.arange(st.base_word + pofs[j], st.base_word + pofs[j + 1]), self.psum_tag,
                               f"{name}: psums", compute=True)
            return L.unpack_group(rows, (g, kg, h, w), self.pdt).astype(np.int64).transpose(1, 0, 2, 3)
        if first:
            return np.zeros((kg, g, h, w), np.int64)
        key = (_out_key(o), j)
        if key not in self.acc_regs:
            raise FunctionalSimError(f"node {name!r}: partial sums of output tile {o} are neither in the "
                                     "accumulators nor in the SRAM (a dropped spill?)")
        return self.acc_regs.pop(key)

    def _pool(self, st: Step, inp: Resident, o: dict) -> None:
        """A pooling step on the vector unit, one accumulator group (k = 1, ``gh`` rows) at a time: the group's
        window rows read as a convolution's, every tap reduced (max or sum), the pool's arithmetic, the group's
        int8 block written."""
        pool, name = self.d.pool, self.sch.shape.name
        if pool is None:
            raise FunctionalSimError(f"node {name!r}: pooling schedule without a pooling op")
        (g0, g1), (h0, h1), (w0, w1) = o["g"], o["h"], o["w"]
        g, h, w = g1 - g0, h1 - h0, w1 - w0
        reads0, writes0 = self.m.tally.sram_reads_compute, self.m.tally.sram_writes_compute
        tag = self.m.new_tag()
        oofs = L.block_words(1, 1, h, self.gh, g * w, self.wb)
        for j, (_, (r0, r1)) in enumerate(L.block_bounds(1, 1, h, self.gh)):
            taps = np.stack([x for _, _, x in self._taps(inp, g, 1, r0, r1 - r0, w)])  # (kh*kw, g, 1, rows, w) int8
            q = pool.finish(pool.reduce(taps, 0), h0 + r0, w0)  # (g, 1, rows, w)
            self.m.write(st.base_word + oofs[j], L.pack_grouped(q, 1, self.wb, "i1"), tag, f"{name}: outputs",
                         compute=True)
        self.last_write = tag
        self._check_step(st, reads0, writes0)

    def _macs(self, inp: Resident, wt: np.ndarray, g: int, c: int, r0: int, h: int, w: int) -> np.ndarray:
        """Accumulate (k, g, h, w) products of the weights and the window taps (centred on the zero point) for
        the ``h`` output rows from tile row ``r0``."""
        acc = np.zeros((wt.shape[0], g, h, w), np.int64)
        for i, jj, x in self._taps(inp, g, c, r0, h, w):
            acc += np.einsum("kgc,gchw->kghw", wt[:, :, :, i, jj], x - self.d.x_zp)
        return acc

    def _taps(self, inp: Resident, g: int, c: int, r0: int, h: int, w: int):  # noqa: ANN202
        """Read the window rows of output rows r0 .. r0 + h - 1 of the tile (once, once per kernel row, or once
        per kernel offset, as the mapper counts) and yield (ky, kx, raw int8 taps (g, c, h, w) as int64) per
        kernel offset."""
        sh, name = self.sch.shape, self.sch.shape.name
        (wr0, wr1), (q0, q1) = inp.region["row"], inp.region["col"]
        rows, cols = wr1 - wr0, q1 - q0
        grows = int(sh.window_rows(h))  # the window rows this group spans
        rw = L.window_row_words(cols, self.wb)
        reuse = sh.kernel_h * sh.kernel_w == 1 or grows * cols <= self.sch.hw.register_window_bytes
        top = sh.stride_h * r0  # the group's first window row
        hs = sh.stride_h * np.arange(h)  # window rows relative to ``top``
        ws = sh.stride_w * np.arange(w)
        if reuse and window_packed(self.sch, rows, cols):  # one row group: the whole packed window, once
            n = g * c * rows * cols
            raw = self.m.read(np.arange(inp.base, inp.base + L.ceil_div(n, self.wb)), inp.tag, f"{name}: inputs", True)
            win = np.ascontiguousarray(raw).ravel()[:n].view(np.int8).reshape(g, c, rows, cols).astype(np.int64)
        elif reuse:
            idx = L.window_word_index(inp.base, g * c, rows, rw, top + np.arange(grows))
            win = L.unpack_window(self.m.read(idx, inp.tag, f"{name}: inputs", True), g * c, grows, rw, cols, self.wb)
            win = win.reshape(g, c, grows, cols).astype(np.int64)
        per_row = not reuse and cols <= getattr(self.sch.hw, "input_row_bytes", 0)  # a row fits the input registers
        for i in range(sh.kernel_h):
            sel = i * sh.dilation_h + hs
            for jj in range(sh.kernel_w):
                cs = jj * sh.dilation_w + ws
                if not reuse and (jj == 0 or not per_row):  # fetch the whole-word rows this offset (row) needs
                    idx = L.window_word_index(inp.base, g * c, rows, rw, top + sel)
                    part = L.unpack_window(self.m.read(idx, inp.tag, f"{name}: inputs", True), g * c, h, rw, cols,
                                           self.wb).reshape(g, c, h, cols).astype(np.int64)
                yield i, jj, (win[:, :, sel][:, :, :, cs] if reuse else part[:, :, :, cs])

    def _check_step(self, st: Step, reads0: int, writes0: int) -> None:
        r = self.m.tally.sram_reads_compute - reads0
        wr = self.m.tally.sram_writes_compute - writes0
        if (r, wr) != (st.sram_reads, st.sram_writes):
            self.m.note(f"{self.sch.shape.name}: compute {st.region}: {r} reads / {wr} writes, step says "
                        f"{st.sram_reads} / {st.sram_writes}")

    # ---- stores ----------------------------------------------------------------------------------------
    def store(self, st: Step) -> None:
        sh, name = self.sch.shape, self.sch.shape.name
        o = region_dict(st.region)
        (g0, g1), (k0, k1), (h0, h1), (w0, w1) = o["g"], o["k"], o["h"], o["w"]
        g, k, h, w = g1 - g0, k1 - k0, h1 - h0, w1 - w0
        psum = st.operand == "psums"
        dt, eb = (self.pdt, self.peb) if psum else ("i1", 1)
        ofs = L.block_words(k, self.ak, h, self.gh, g * w * eb, self.wb)
        tile = np.zeros((g, k, h, w), np.int64 if psum else np.int8)
        for j, ((a, b), (r0, r1)) in enumerate(L.block_bounds(k, self.ak, h, self.gh)):
            rows = self.m.read(np.arange(st.base_word + ofs[j], st.base_word + ofs[j + 1]), self.last_write,
                               f"{name}: store {st.operand}", compute=False)
            tile[:, a:b, r0:r1] = L.unpack_group(rows, (g, b - a, r1 - r0, w), dt)
        self.m.tally.offchip_write_bytes += tile.size * eb
        if tile.size * eb != st.offchip_bytes or ofs[-1] != st.sram_reads:
            self.m.note(f"{name}: store {st.region}: {ofs[-1]} words / {tile.size * eb} B, step says "
                        f"{st.sram_reads} / {st.offchip_bytes}")
        if psum:
            self.psum_mem[_out_key(o)] = tile.copy()
            return
        chans = (np.arange(g0, g1)[:, None] * sh.k_per_group + np.arange(k0, k1)[None, :]).ravel()
        self.out[chans, h0:h1, w0:w1] = tile.reshape(g * k, h, w)


def check_weight_bits(sch: ConvSchedule, weights: np.ndarray | None, op_bits: int) -> None:
    """The schedule's packed weights (``ConvShape.weight_bits``) are the quantized op's (``attrs["weight_bits"]``),
    and 4-bit weights fit a nibble: the SRAM holds what the analytical model priced, or nothing runs."""
    sh = sch.shape
    if sh.pool_op or weights is None:
        return
    if sh.weight_bits != op_bits:
        raise FunctionalSimError(f"node {sh.name!r}: scheduled with {sh.weight_bits}-bit weights but quantized with "
                                 f"{op_bits}-bit ones: simulate with the --weight-bits the model was quantized with")
    if sh.weight_bits == 4 and weights.size and (weights.min() < -8 or weights.max() > 7):
        raise FunctionalSimError(f"node {sh.name!r}: 4-bit weights outside [-8, 7] (min {int(weights.min())}, max "
                                 f"{int(weights.max())}): quantize it at 4 bits")


def _out_key(o: dict) -> tuple:
    return (o["g"], o["k"], o["h"], o["w"])


def execute_conv(sch: ConvSchedule, data: ConvData, m: Machine, steps: Iterable[Step] | None = None) -> np.ndarray:
    """Run the schedule (or ``steps``, a variant of it); returns the int8 output (K, OH, OW)."""
    sh = sch.shape
    out = np.zeros((sh.groups * sh.k_per_group, sh.out_h, sh.out_w), np.int8)
    run = ConvRun(sch, data, m, out)
    for st in (sch.steps() if steps is None else steps):
        if st.kind == "load":
            run.load(st)
        elif st.kind == "compute":
            run.compute(st)
        elif st.kind == "store":
            if not (data.unwritten and st.operand == "outputs"):
                run.store(st)
        else:
            raise FunctionalSimError(f"node {sh.name!r}: unknown step kind {st.kind!r}")
    return out
