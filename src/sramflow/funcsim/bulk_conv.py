"""Execute a ``ConvSchedule`` in bulk from its ``StepTable``: every check of ``exec_conv`` (resident tiles
serve each step, every word read holds the writer the step expects, partial sums flow through the
accumulators, the SRAM or off-chip in reduction order, counts per step), with the arithmetic done per class
of tile sizes: operands gathered from the SRAM words for all steps of a class, one batched matmul, one
requantization of the layer (``reference.requant``) once the accumulation chain of every output is checked.
"""

from __future__ import annotations

import numpy as np

from sramflow.funcsim.bulk_conv_compute import run_compute_and_stores
from sramflow.funcsim.bulk_node import ConvNode as _Node
from sramflow.funcsim.bulk_node import tile_key as _tile_key
from sramflow.funcsim.bulk_sram import (NodeSram, classes, gather_payload, last_of, layout_map, pack_int4_payload,
                                        source_offsets)
from sramflow.funcsim.exec_conv import ConvData
from sramflow.funcsim.sram import FunctionalSimError
from sramflow.funcsim.state import Machine
from sramflow.mapping.conv import block_words, group_classes
from sramflow.mapping.conv_schedule import ConvSchedule
from sramflow.mapping.layout import window_packed
from sramflow.mapping.steps_table import COMPUTE, LOAD, OP, STORE, StepTable, steps_table


def execute_conv_bulk(sch: ConvSchedule, data: ConvData, m: Machine, table: StepTable | None = None) -> np.ndarray:
    """Run the schedule (or ``table``, a variant of it); returns the int8 output (K, OH, OW)."""
    node = _Node(sch, steps_table(sch) if table is None else table)
    if node.sh.pool_op and data.pool is None:
        raise FunctionalSimError(f"{node.name}: pooling schedule without a pooling op")
    bad = ~np.isin(node.kind, (LOAD, STORE, COMPUTE))
    node.fail(np.flatnonzero(bad), "unknown step kind")
    words = _exec_words(node)
    writes = (node.kind == LOAD) | ((node.kind == COMPUTE) & (words > 0))
    base = node.t.base_word
    sram = NodeSram(node.name, m, np.where(writes, base, 0), np.where(writes, base + words, 0))
    _loads(node, data, sram, words)
    return run_compute_and_stores(node, data, sram, words)


# ---- sizes the executor writes ---------------------------------------------------------------------------

def _exec_words(node: _Node) -> np.ndarray:
    """Words each load writes / compute step writes / store reads, from the tile layouts."""
    sh, e, wb, ak = node.sh, node.ext, node.wb, node.ak
    words = np.zeros(len(node.t), np.int64)
    khw = sh.kernel_h * sh.kernel_w
    per_word = wb * 8 // sh.weight_bits  # weights per word: wb bytes, or 2 x wb packed 4-bit ones
    for op, per, units in (("bias", e["g"] * 4, wb), ("weights", e["g"] * e["c"] * khw, per_word)):
        r = node.rows(LOAD, op)
        if r.size:
            words[r] = _vec_group_words(e["k"][r], per[r], ak, units)
    r = node.rows(LOAD, "psums")
    words[r] = _out_words(node, r, sh.psum_bytes)
    r = node.rows(LOAD, "skip")  # the skip tile, in the output tile's layout
    words[r] = _out_words(node, r, 1)
    r = node.rows(LOAD, "inputs")
    n, aligned = e["g"][r] * e["c"][r] * e["row"][r], e["g"][r] * e["c"][r] * e["row"][r] * -(-e["col"][r] // wb)
    words[r] = np.where(window_packed(node.sch, e["row"][r], e["col"][r]), -(-n * e["col"][r] // wb), aligned)
    cp = node.rows(COMPUTE)
    c_last = _compute_last(node, cp)
    access = node.t.psum_access[cp]
    w_out, w_ps = _out_words(node, cp, 1), _out_words(node, cp, sh.psum_bytes)
    words[cp] = np.where(c_last, w_out, np.where((access == 1) | (access == 2), w_ps, 0))
    st = np.flatnonzero(node.kind == STORE)
    words[st] = np.where(node.op[st] == OP["psums"], _out_words(node, st, sh.psum_bytes), _out_words(node, st, 1))
    return words


def _out_words(node: _Node, r: np.ndarray, element_bytes: int) -> np.ndarray:
    """Words of the output / partial-sum tiles of rows ``r``: one word-aligned block per accumulator group."""
    e = node.ext
    return block_words(group_classes(e["k"][r], node.ak), group_classes(e["h"][r], node.gh), e["g"][r] * e["w"][r],
                       element_bytes, node.wb)


def _vec_group_words(k: np.ndarray, per_k: np.ndarray, ak: int, wb: int) -> np.ndarray:
    kg = -(-k // ak)
    last = k - (kg - 1) * ak
    return (kg - 1) * (-(-(ak * per_k) // wb)) + (-(-(last * per_k) // wb))


def _compute_last(node: _Node, cp: np.ndarray) -> np.ndarray:
    li = last_of((node.kind == LOAD) & (node.op == OP["inputs"]))[cp]
    node.fail(cp[li < 0], "compute step needs inputs never loaded")
    return node.hi["c"][li] == node.sh.c_per_group


# ---- loads -----------------------------------------------------------------------------------------------

def _loads(node: _Node, d: ConvData, sram: NodeSram, words: np.ndarray) -> None:
    sh, e, lo, t = node.sh, node.ext, node.lo, node.t
    m = sram.m
    G, K, C = sh.groups, sh.k_per_group, sh.c_per_group
    khw = sh.kernel_h * sh.kernel_w
    pad = max(sh.pad_top, sh.pad_left, (sh.out_h - 1) * sh.stride_h + sh.span_h - sh.pad_top - sh.in_h,
              (sh.out_w - 1) * sh.stride_w + sh.span_w - sh.pad_left - sh.in_w, 0)
    xpad = np.pad(d.x, ((0, 0), (pad, pad), (pad, pad)), constant_values=d.x_zp)
    hp, wp = xpad.shape[1:]
    bias = np.zeros((G, K), "<i4") if d.bias is None else np.ascontiguousarray(d.bias, "<i4")
    blocks, fetched = [], np.zeros(len(t), np.int64)
    specs = {
        "bias": (bias, lambda r: (e["g"][r], e["k"][r]), (K, 1), 4, False,
                 lambda r: (lo["g"][r] * K + lo["k"][r]) * 4),
        "weights": (d.weights, lambda r: (e["g"][r], e["k"][r], e["c"][r], sh.kernel_h, sh.kernel_w),
                    (K * C * khw, C * khw, khw, sh.kernel_w, 1), 1, False,
                    lambda r: lo["g"][r] * K * C * khw + lo["k"][r] * C * khw + lo["c"][r] * khw),
        "inputs": (xpad, lambda r: (e["g"][r], e["c"][r], e["row"][r], e["col"][r]), (C * hp * wp, hp * wp, wp, 1), 1,
                   True, lambda r: (lo["g"][r] * C + lo["c"][r]) * hp * wp + (lo["row"][r] + pad) * wp
                   + lo["col"][r] + pad),
    }
    if node.rows(LOAD, "skip").size:
        if d.skip is None or d.residual is None:
            raise FunctionalSimError(f"{node.name}: skip tile loads without the residual Add's skip tensor")
        OH, OW = sh.out_h, sh.out_w
        specs["skip"] = (np.ascontiguousarray(d.skip, np.int8).reshape(G, K, OH, OW),
                         lambda r: (e["g"][r], e["k"][r], e["h"][r], e["w"][r]), (K * OH * OW, OH * OW, OW, 1), 1,
                         False, lambda r: ((lo["g"][r] * K + lo["k"][r]) * OH + lo["h"][r]) * OW + lo["w"][r])
    for op, (src, ext_of, strides, eb, aligned, origin_of) in specs.items():
        rows = node.rows(LOAD, op)
        exts = [np.broadcast_to(x, rows.shape) for x in ext_of(rows)]
        for cls in classes(*exts):
            r = rows[cls]
            ext = tuple(int(x[cls[0]]) for x in exts)
            if aligned:  # an input window: rows word-aligned unless packed
                pmap = layout_map(ext, eb, node.wb, row_aligned=not bool(window_packed(node.sch, ext[2], ext[3])))
            elif op == "weights" and sh.weight_bits == 4:  # the map is per nibble: 2 x wb nibbles per word
                pmap = layout_map(ext, eb, 2 * node.wb, node.ak)
                offsets = source_offsets(pmap, ext, eb, strides)
                blocks.append((r, pack_int4_payload(src, origin_of(r), offsets, node.wb)))
                continue
            elif op == "skip":  # one word-aligned block per accumulator group, as the outputs
                pmap = layout_map(ext, eb, node.wb, node.ak, row_group=node.gh)
            else:
                pmap = layout_map(ext, eb, node.wb, node.ak)
            blocks.append((r, gather_payload(src, origin_of(r), source_offsets(pmap, ext, eb, strides), node.wb)))
    r = node.rows(LOAD, "bias")
    fetched[r] = e["g"][r] * e["k"][r] * 4
    r = node.rows(LOAD, "weights")
    fetched[r] = -(-e["g"][r] * e["k"][r] * e["c"][r] * khw * sh.weight_bits // 8)  # packed bytes
    r = node.rows(LOAD, "inputs")
    rows_in = np.clip(node.hi["row"][r], 0, sh.in_h) - np.clip(lo["row"][r], 0, sh.in_h)
    cols_in = np.clip(node.hi["col"][r], 0, sh.in_w) - np.clip(lo["col"][r], 0, sh.in_w)
    fetched[r] = e["g"][r] * e["c"][r] * rows_in.clip(0) * cols_in.clip(0)
    r = node.rows(LOAD, "skip")
    fetched[r] = e["g"][r] * e["k"][r] * e["h"][r] * e["w"][r]
    sram.set_payload(blocks)
    pl = node.rows(LOAD, "psums")
    _check_psum_reloads(node, pl)
    fetched[pl] = e["g"][pl] * e["k"][pl] * e["h"][pl] * e["w"][pl] * sh.psum_bytes
    m.sram.writes += int(words[pl].sum())
    ld = node.rows(LOAD)
    m.tally.sram_writes_dma += int(words[ld].sum())
    m.tally.offchip_read_bytes += int(fetched[ld].sum())
    bad = ld[(words[ld] != t.sram_writes[ld]) | (fetched[ld] != t.offchip_bytes[ld])]
    for i in bad[:3]:
        m.note(f"{node.sh.name}: load {node.t.step(int(i)).region}: wrote {words[i]} words / {fetched[i]} B, step "
               f"says {t.sram_writes[i]} / {t.offchip_bytes[i]}")
    unknown = ld[~np.isin(node.op[ld], (OP["bias"], OP["weights"], OP["inputs"], OP["psums"], OP["skip"]))]
    node.fail(unknown, "load of an unknown operand")


def _check_psum_reloads(node: _Node, pl: np.ndarray) -> None:
    """Every partial-sum reload follows a store of the same output tile's partial sums."""
    ps = np.flatnonzero((node.kind == STORE) & (node.op == OP["psums"]))
    if not pl.size:
        return
    key_s, key_l = _tile_key(node, ps), _tile_key(node, pl)
    first_store = {}
    for k, r in zip(key_s[::-1].tolist(), ps[::-1].tolist()):
        first_store[k] = r
    ok = np.array([first_store.get(k, len(node.t)) < r for k, r in zip(key_l.tolist(), pl.tolist())], bool)
    node.fail(pl[~ok], "partial sums loaded back but never stored off-chip (a dropped spill?)")
