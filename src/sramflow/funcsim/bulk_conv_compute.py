"""Compute and store steps of the bulk convolution executor (see ``bulk_conv``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sramflow.funcsim.bulk_node import ConvNode, tile_key
from sramflow.funcsim.bulk_sram import NodeSram, ReadGroup, classes, inverse_map, last_of, layout_map
from sramflow.funcsim.exec_conv import ConvData
from sramflow.ir.precision import unpack_int4
from sramflow.mapping.layout import window_packed
from sramflow.mapping.steps_table import COMPUTE, LOAD, OP, STORE
from sramflow.reference.requant import wrap_int32

WRITE, RMW, READ = 1, 2, 3


@dataclass(frozen=True)
class Residents:
    """Per compute step (aligned with ``cp``): the rows whose data it expects, and its reduction position."""

    cp: np.ndarray
    weights: np.ndarray
    inputs: np.ndarray
    bias: np.ndarray
    psum_writer: np.ndarray
    first: np.ndarray
    last: np.ndarray
    access: np.ndarray
    reads_bias: np.ndarray
    reads_psums: np.ndarray


def residents(node: ConvNode) -> Residents:
    """What each compute step finds resident, with the per-step executor's checks (typed errors)."""
    sh, lo, hi, cp = node.sh, node.lo, node.hi, node.rows(COMPUTE)
    is_load = node.kind == LOAD
    last_load = {op: last_of(is_load & (node.op == OP[op]))[cp] for op in ("weights", "inputs", "bias", "psums")}
    li, lw = last_load["inputs"], last_load["weights"]
    node.fail(cp[li < 0], "compute step needs inputs never loaded")
    if not sh.pool_op:  # pooling has no weights
        node.fail(cp[lw < 0], "compute step needs weights never loaded")
    serves = node.same_region(li, cp, "g") & (lo["row"][li] == lo["h"][cp] * sh.stride_h - sh.pad_top) \
        & (lo["col"][li] == lo["w"][cp] * sh.stride_w - sh.pad_left)
    node.fail(cp[~serves], "the resident input window does not serve the output tile")
    if not sh.pool_op:
        node.fail(cp[~(node.same_region(lw, cp, "gk") & node.same_region(lw, li, "c"))],
                  "the resident weights do not match the output tile and input channels")
    first, last = lo["c"][li] == 0, hi["c"][li] == sh.c_per_group
    access = node.t.psum_access[cp]
    reads_psums = (access == RMW) | (access == READ)
    reads_bias = last & sh.has_bias  # the accumulators add the bias at the last reduction step
    node.fail(cp[reads_bias & (last_load["bias"] < 0)], "compute step needs bias never loaded")
    if node.sch.spill_psums:
        lp = last_load["psums"]
        node.fail(cp[reads_psums & ((lp < 0) | ~node.same_region(np.maximum(lp, 0), cp, "gkhw"))],
                  "partial sums of the output tile were not reloaded (a dropped spill?)")
    writer = is_load & (node.op == OP["psums"])
    writer[cp] |= ((access == WRITE) | (access == RMW)) & ~last
    _check_chain(node, cp, first, last, access)
    return Residents(cp, lw, li, last_load["bias"], last_of(writer)[cp], first, last, access, reads_bias, reads_psums)


def _check_chain(node: ConvNode, cp: np.ndarray, first: np.ndarray, last: np.ndarray, access: np.ndarray) -> None:
    """Per output tile, reduction steps in channel order, each finding the previous one's partial sums where it
    left them (accumulators, or the SRAM / a reload when it wrote them)."""
    key = tile_key(node, cp)
    order = np.lexsort((cp, key))
    k, c0, c1 = key[order], node.lo["c"][_inputs_of(node, cp)][order], node.hi["c"][_inputs_of(node, cp)][order]
    acc = access[order]
    start = np.r_[True, k[1:] != k[:-1]]
    end = np.r_[k[1:] != k[:-1], True]
    ok = np.where(start, c0 == 0, np.r_[False, c1[:-1] == c0[1:]])
    ok &= ~end | (c1 == node.sh.c_per_group)
    wrote = np.r_[False, (acc[:-1] == WRITE) | (acc[:-1] == RMW)]
    ok &= start | (wrote == ((acc == RMW) | (acc == READ)))
    node.fail(cp[order[~ok]], "partial sums of the output tile are neither in the accumulators nor in the SRAM "
                              "(a dropped spill, or reduction steps out of order?)")


def _inputs_of(node: ConvNode, cp: np.ndarray) -> np.ndarray:
    return last_of((node.kind == LOAD) & (node.op == OP["inputs"]))[cp]


def _input_multiplicity(node: ConvNode, g: int, c: int, h: int, w: int, kg: int) -> tuple[np.ndarray, int, int]:
    """Reads of each window word by one step: per accumulator group (``kg`` k groups x row groups of
    ``node.gh`` rows), the window rows of its output rows (all once, once per kernel row, or per kernel offset)."""
    sh, hw = node.sh, node.sch.hw
    rows, cols = sh.window_rows(h), sh.window_cols(w)
    if window_packed(node.sch, rows, cols):  # every group reads the whole packed window once
        return np.full(-(-g * c * rows * cols // node.wb), kg, np.int64), rows, cols
    rw = -(-cols // node.wb)
    khw = sh.kernel_h * sh.kernel_w
    per_row = np.zeros(rows, np.int64)
    for r0 in range(0, h, node.gh):
        hg = min(node.gh, h - r0)
        grows, top = sh.window_rows(hg), sh.stride_h * r0
        if khw == 1 or grows * cols <= hw.register_window_bytes:
            per_row[top:top + grows] += 1
        else:
            sel = (np.arange(sh.kernel_h)[:, None] * sh.dilation_h + sh.stride_h * np.arange(hg)).ravel()
            per_row[top:top + grows] += np.bincount(sel, minlength=grows) \
                * (1 if cols <= hw.input_row_bytes else sh.kernel_w)
    return np.tile(np.repeat(per_row * kg, rw), g * c), rows, cols


def run_compute_and_stores(node: ConvNode, d: ConvData, sram: NodeSram, words: np.ndarray) -> np.ndarray:
    res = residents(node)
    sh, e, cp, wb, ak, m = node.sh, node.ext, res.cp, node.wb, node.ak, sram.m
    rd = node.t.reads
    pos = np.searchsorted(cp, rd.step)
    base = {}
    for op in ("weights", "inputs", "bias", "psums", "skip"):
        base[op] = np.full(cp.size, -1, np.int64)
        sel = rd.operand == OP[op]
        base[op][pos[sel]] = rd.base_word[sel]
    size = {dim: e[dim][cp] for dim in "gkhw"} | {"c": e["c"][res.inputs]}
    groups, jobs = [], []
    reads = np.zeros(cp.size, np.int64)
    for cls in classes(*(size[dim] for dim in "gkchw")):
        g, k, c, h, w = (int(size[dim][cls[0]]) for dim in "gkchw")
        kg, ph = -(-k // ak), -(-h // node.gh)  # k groups, row groups: weights and bias are read once per row group
        per_word = wb * 8 // sh.weight_bits  # weights per word (packed 4-bit: a map per nibble)
        wmap = layout_map((g, k, c, sh.kernel_h, sh.kernel_w), 1, per_word, ak)
        imult, nrows, ncols = _input_multiplicity(node, g, c, h, w, kg)
        imap = layout_map((g, c, nrows, ncols), 1, wb, row_aligned=not bool(window_packed(node.sch, nrows, ncols)))
        rows = cp[cls]
        if sh.pool_op:
            jobs.append(("pool", cls, (g, k, c, h, w), None, imap, nrows, ncols))
        else:
            wwords = wmap.size // per_word
            order, decode = _weight_decoder(wmap, wwords * wb, sh.weight_bits)
            jobs.append(("mac", cls, (g, k, c, h, w), decode, imap, nrows, ncols))
            groups.append(ReadGroup(rows, base["weights"][cls], res.weights[cls],
                                    np.full(wwords, ph, np.int64), byte_order=order))
            reads[cls] += wwords * ph
        groups.append(ReadGroup(rows, base["inputs"][cls], res.inputs[cls], imult, byte_order=inverse_map(imap)))
        reads[cls] += int(imult.sum())
        for flag, op, per, writer in ((res.reads_bias, "bias", (), res.bias), (res.reads_psums, "psums", (h, w), None)):
            sub = cls[flag[cls]]
            if not sub.size:
                continue
            pmap = layout_map((g, k, *per), sh.psum_bytes if per else 4, wb, ak, row_group=node.gh if per else 0)
            times = ph if op == "bias" else 1  # each row group loads its bias; psums: each group its own block
            exp = res.psum_writer[sub] if writer is None else writer[sub]
            groups.append(ReadGroup(cp[sub], base[op][sub], exp,
                                    np.full(pmap.size // wb, times, np.int64)))
            jobs.append((op, sub, (g, k), pmap))
            reads[sub] += pmap.size // wb * times
    skips = _skip_reads(node, res, base["skip"], reads)
    k0 = len(groups)
    groups += [gr for _, gr in skips]
    st = node.rows(STORE)
    if d.unwritten:  # the output stores are not executed
        st = st[node.op[st] != OP["outputs"]]
    last_write = last_of((node.kind == COMPUTE) & (words > 0))[st]
    for cls in classes(words[st]):
        groups.append(ReadGroup(st[cls], node.t.base_word[st[cls]], last_write[cls],
                                np.ones(int(words[st[cls[0]]]), np.int64), compute=False))
    data = sram.read(groups)
    acc = _arithmetic(node, d, res, jobs, [x for x, gr in zip(data, groups) if gr.compute])
    skip = _skip_tensor(node, list(zip(skips, data[k0:k0 + len(skips)])))
    _count_compute(node, m, res, reads, words)
    return _store(node, d, m, res, acc, st, last_write, words, skip)


def _skip_reads(node: ConvNode, res: Residents, base: np.ndarray, reads: np.ndarray) -> list:
    """A residual Add's skip tile reads (``ConvShape.residual``): every last reduction step reads the words of its
    output tile, which the skip load of that tile wrote; [(tile extents, ReadGroup)] by tile size. Adds the words
    to ``reads``."""
    if not node.sh.residual:
        return []
    cp = res.cp
    sk = last_of((node.kind == LOAD) & (node.op == OP["skip"]))[cp]
    sub = np.flatnonzero(res.last)
    node.fail(cp[sub[(sk[sub] < 0) | ~node.same_region(np.maximum(sk[sub], 0), cp[sub], "gkhw")]],
              "the resident skip tile does not serve the output tile")
    out = []
    for cls in classes(*(node.ext[dim][cp[sub]] for dim in "gkhw")):
        rows = sub[cls]
        tile = tuple(int(node.ext[dim][cp[rows[0]]]) for dim in "gkhw")
        pmap = layout_map(tile, 1, node.wb, node.ak, row_group=node.gh)
        out.append((tile, ReadGroup(cp[rows], base[rows], sk[rows], np.ones(pmap.size // node.wb, np.int64),
                                    byte_order=inverse_map(pmap))))
        reads[rows] += pmap.size // node.wb
    return out


def _skip_tensor(node: ConvNode, read: list) -> np.ndarray | None:
    """The skip tensor (G*K*OH*OW,) assembled from the tiles read back from the SRAM (None: no residual Add)."""
    if not node.sh.residual:
        return None
    sh = node.sh
    out = np.zeros(sh.groups * sh.k_per_group * sh.out_h * sh.out_w, np.int8)
    for (tile, gr), x in read:
        out[_tile_index(node, gr.rows, tile).ravel()] = np.asarray(x).view(np.int8).ravel()
    return out


def _weight_decoder(wmap: np.ndarray, span_bytes: int, bits: int):  # noqa: ANN202 - (byte order, decoder)
    """What a weight read returns and how it becomes int8 weights in tile order: 8-bit, the weight bytes in
    element order (``inverse_map``), viewed as int8; packed 4-bit, every byte of the span, split into nibbles
    (sign-extended) and put in element order by the nibble map ``wmap``."""
    inv = inverse_map(wmap)
    if bits == 8:
        return inv, lambda raw: raw.view(np.int8)
    return np.arange(span_bytes), lambda raw: unpack_int4(raw)[:, inv]


def _arithmetic(node: ConvNode, d: ConvData, res: Residents, jobs: list, data: list[np.ndarray]) -> np.ndarray:
    """int64 accumulators of the whole layer (G*K, OH, OW): bias + the products of every reduction step."""
    sh = node.sh
    n_out = sh.groups * sh.k_per_group * sh.out_h * sh.out_w
    acc = np.zeros(n_out, np.float64)  # exact: every partial sum here is far below 2**53
    it = iter(data)
    cp = res.cp
    for job in jobs:
        if job[0] == "pool":  # one step per output tile (c = 1): its reduced taps land in the accumulators
            _, cls, (g, _, _, h, w), _, imap, nrows, ncols = job
            n = cls.size
            x = next(it).view(np.int8).reshape(n, g, nrows, ncols)
            rr = (np.arange(sh.kernel_h) * sh.dilation_h)[:, None] + sh.stride_h * np.arange(h)
            cc = (np.arange(sh.kernel_w) * sh.dilation_w)[:, None] + sh.stride_w * np.arange(w)
            taps = x[:, :, rr[:, None, :, None], cc[None, :, None, :]].reshape(n, g, -1, h * w)
            red = d.pool.reduce(taps, 2).astype(np.float64)  # (n, g, h*w), |value| <= 128 * taps: exact
            acc += _scatter(node, cp[cls], (g, 1, h, w), red, n_out)
        elif job[0] == "mac":
            _, cls, (g, k, c, h, w), decode, imap, nrows, ncols = job
            n = cls.size
            wt = decode(next(it)).reshape(n, g, k, -1)
            x = next(it).view(np.int8).reshape(n, g, -1, nrows, ncols)
            if sh.kernel_h == sh.kernel_w == 1:  # pointwise: the patches are a strided view of the window
                sel = x[:, :, :, :sh.stride_h * (h - 1) + 1:sh.stride_h, :sh.stride_w * (w - 1) + 1:sh.stride_w]
                patches = sel.reshape(n, g, -1, h * w)
            else:
                rr = (np.arange(sh.kernel_h) * sh.dilation_h)[:, None] + sh.stride_h * np.arange(h)
                cc = (np.arange(sh.kernel_w) * sh.dilation_w)[:, None] + sh.stride_w * np.arange(w)
                patches = x[:, :, :, rr[:, None, :, None], cc[None, :, None, :]].reshape(n, g, -1, h * w)
            dt = _exact_float(patches.shape[2], d.x_zp)
            part = np.matmul(wt.astype(dt), patches.astype(dt) - dt(d.x_zp))
            acc += _scatter(node, cp[cls], (g, k, h, w), part, n_out)
        else:
            op, sub, (g, k), pmap = job
            raw = next(it)  # partial sums: checked reads only, their values come from the accumulation chain
            if op == "bias":
                vals = raw.reshape(sub.size, -1)[:, inverse_map(pmap)].copy().view("<i4")
                h, w = node.ext["h"][cp[sub[0]]], node.ext["w"][cp[sub[0]]]
                full = np.broadcast_to(vals.reshape(sub.size, g, k, 1, 1), (sub.size, g, k, h, w))
                acc += _scatter(node, cp[sub], (g, k, int(h), int(w)), full.astype(np.float64), n_out)
    return np.rint(acc).astype(np.int64)


def _exact_float(terms: int, x_zp: int) -> type:
    """float32 when a dot product of ``terms`` int8 weights and (int8 input - zero point) is an integer below
    2**24 at every partial sum (float32 sums it exactly), else float64 (exact below 2**53)."""
    bound = terms * 128 * (128 + abs(int(x_zp)))
    return np.float32 if bound < 2**24 else np.float64


def _tile_index(node: ConvNode, rows: np.ndarray, tile: tuple[int, int, int, int]) -> np.ndarray:
    """Flat (G*K, OH, OW) indices of the (g, k, h, w) tiles of ``rows``, shape (n, g*k*h*w)."""
    sh = node.sh
    g, k, h, w = tile
    rel = ((np.arange(g)[:, None] * sh.k_per_group + np.arange(k))[:, :, None, None] * sh.out_h
           + np.arange(h)[:, None]) * sh.out_w + np.arange(w)
    return tile_key(node, rows)[:, None] + rel.reshape(1, -1)


def _scatter(node: ConvNode, rows: np.ndarray, tile: tuple[int, int, int, int], vals: np.ndarray,
             n_out: int) -> np.ndarray:
    idx = _tile_index(node, rows, tile)
    return np.bincount(idx.ravel(), weights=np.asarray(vals, np.float64).ravel(), minlength=n_out)


def _count_compute(node: ConvNode, m, res: Residents, reads: np.ndarray, words: np.ndarray) -> None:  # noqa: ANN001
    sh, e, cp = node.sh, node.ext, res.cp
    if not sh.pool_op:  # pooling taps are vector ops, not MACs
        m.tally.macs += int((e["g"][cp] * e["k"][cp] * e["c"][res.inputs] * e["h"][cp] * e["w"][cp]).sum()) \
            * sh.kernel_h * sh.kernel_w
    m.sram.writes += int(words[cp].sum())
    m.tally.sram_writes_compute += int(words[cp].sum())
    bad = np.flatnonzero((reads != node.t.sram_reads[cp]) | (words[cp] != node.t.sram_writes[cp]))
    for j in bad[:3]:
        m.note(f"{sh.name}: compute {node.t.step(int(cp[j])).region}: {reads[j]} reads / {words[cp[j]]} writes, "
               f"step says {node.t.sram_reads[cp[j]]} / {node.t.sram_writes[cp[j]]}")


def _store(node: ConvNode, d: ConvData, m, res: Residents, acc: np.ndarray, st: np.ndarray,  # noqa: ANN001
           last_write: np.ndarray, words: np.ndarray, skip: np.ndarray | None = None) -> np.ndarray:
    """Requantize the layer; each output store takes its tile from the compute step whose results it reads
    (a store reading another tile's results, or partial sums where outputs belong, stores nothing)."""
    sh, e = node.sh, node.ext
    gk = sh.groups * sh.k_per_group
    if sh.pool_op:
        q = d.pool.finish(acc.reshape(gk, sh.out_h, sh.out_w))
    else:
        q = d.requant(wrap_int32(acc).reshape(gk, 1, sh.out_h, sh.out_w), np.arange(gk)[:, None])
    q = np.asarray(q, np.int8).reshape(-1)
    if skip is not None:  # the residual Add: each requantized output plus its skip element read from the SRAM
        q = np.asarray(d.residual(q, skip), np.int8).reshape(-1)
    out = np.zeros(gk * sh.out_h * sh.out_w, np.int8)
    if d.unwritten:  # what the last reduction steps write: the values on the output path
        done = res.cp[res.last]
        for cls in classes(*(e[dim][done] for dim in "gkhw")):
            idx = _tile_index(node, done[cls], tuple(int(e[dim][done[cls[0]]]) for dim in "gkhw")).ravel()
            out[idx] = q[idx]
    is_out = node.op[st] == OP["outputs"]
    last_of_cp = np.zeros(len(node.t), bool)
    last_of_cp[res.cp] = res.last
    wr = np.maximum(last_write, 0)
    ok = (last_write >= 0) & node.same_region(wr, st, "gkhw") & (last_of_cp[wr] == is_out)
    nbytes = e["g"][st] * e["k"][st] * e["h"][st] * e["w"][st] * np.where(is_out, 1, sh.psum_bytes)
    m.tally.offchip_write_bytes += int(nbytes.sum())
    good = st[ok & is_out]
    for cls in classes(*(e[dim][good] for dim in "gkhw")):
        idx = _tile_index(node, good[cls], tuple(int(e[dim][good[cls[0]]]) for dim in "gkhw")).ravel()
        out[idx] = q[idx]
    bad = np.flatnonzero(~ok | (nbytes != node.t.offchip_bytes[st]) | (words[st] != node.t.sram_reads[st]))
    for j in bad[:3]:
        m.note(f"{sh.name}: store {node.t.step(int(st[j])).region}: {words[st[j]]} words / {nbytes[j]} B, step says "
               f"{node.t.sram_reads[st[j]]} / {node.t.offchip_bytes[st[j]]}"
               + ("" if ok[j] else "; the SRAM holds another step's results"))
    return out.reshape(gk, sh.out_h, sh.out_w)
