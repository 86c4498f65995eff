"""Execute a ``VectorSchedule`` in bulk from its ``StepTable``, with ``exec_vector``'s checks: each chunk's
operands gathered from the SRAM words (every word read must hold the load the step expects), the reference
kernel applied once to the whole tensor (element-wise) or once per segment (reductions), stores take the
results of the compute step whose words they read."""

from __future__ import annotations

import numpy as np

from sramflow.funcsim.bulk_sram import NodeSram, ReadGroup, classes, gather_payload, last_of, layout_map, \
    source_offsets
from sramflow.funcsim.exec_vector import VectorData
from sramflow.funcsim.sram import FunctionalSimError
from sramflow.funcsim.state import Machine
from sramflow.mapping.steps_table import COMPUTE, LOAD, OP, OPERANDS, STORE, StepTable, steps_table
from sramflow.mapping.vector import VectorSchedule


def execute_vector_bulk(sch: VectorSchedule, d: VectorData, m: Machine, table: StepTable | None = None) -> np.ndarray:
    """Run the schedule (or ``table``); returns the int8 output (segments, seg_len) or (segments, 1)."""
    t = steps_table(sch) if table is None else table
    sh, wb, name = sch.shape, sch.word_bytes, f"node {sch.shape.name!r}"
    x0, x1 = t.lo[:, 1], t.hi[:, 1]
    n_el = np.where(t.operand == OP["scale"], 1, x1 - x0)
    words = -(-n_el // wb)
    cp = np.flatnonzero(t.kind == COMPUTE)
    last = x1[cp] >= sh.seg_len
    words[cp] = np.where(last, 1, 0) if d.reduce else words[cp]
    st = np.flatnonzero(t.kind == STORE)
    words[st] = -(-(1 if d.reduce else x1[st] - x0[st]) // wb)
    writes = (t.kind == LOAD) | ((t.kind == COMPUTE) & (words > 0))
    sram = NodeSram(name, m, np.where(writes, t.base_word, 0), np.where(writes, t.base_word + words, 0))
    _loads(t, d, sram, words, n_el, name)
    groups, ops = _compute_reads(t, d, cp, wb, name, sh.passes)
    last_write = last_of((t.kind == COMPUTE) & (words > 0))[st]
    for cls in classes(words[st]):
        w = int(words[st[cls[0]]])
        groups.append(ReadGroup(st[cls], t.base_word[st[cls]], last_write[cls],
                                np.ones(w, np.int64), compute=False))
    data = sram.read(groups)
    reads = np.zeros(t.kind.size, np.int64)
    for g in groups:
        reads[g.rows] += int(g.mult.sum())
    args = _operands(t, d, sh, groups, data, ops)
    y = _kernel(d, sh, args)
    m.tally.sram_writes_compute += int(words[cp].sum())
    m.sram.writes += int(words[cp].sum())
    _compute_notes(t, m, cp, reads, words, sh.name)
    return _store(t, sh, d, y, st, last_write, m, words)


def _loads(t: StepTable, d: VectorData, sram: NodeSram, words: np.ndarray, n_el: np.ndarray, name: str) -> None:
    ld = np.flatnonzero(t.kind == LOAD)
    known = [OP["scale"]] + [OP[f"inputs{j}"] for j in range(len(d.full))]
    unknown = ld[~np.isin(t.operand[ld], known)]
    if unknown.size:
        raise FunctionalSimError(f"{name}: load of unknown operand {OPERANDS[t.operand[unknown[0]]]!r}")
    blocks = []
    for j, src in enumerate(d.full):
        rows = ld[t.operand[ld] == OP[f"inputs{j}"]]
        for cls in classes(n_el[rows]):
            x = int(n_el[rows[cls[0]]])
            pmap = layout_map((x,), 1, sram.wb)
            origin = t.lo[rows[cls], 0] * src.shape[1] + t.lo[rows[cls], 1]
            blocks.append((rows[cls], gather_payload(np.ascontiguousarray(src), origin, source_offsets(
                pmap, (x,), 1, (1,)), sram.wb)))
    rows = ld[t.operand[ld] == OP["scale"]]
    if rows.size:
        if d.scale is None:
            raise FunctionalSimError(f"{name}: scale load but the op has no scalar")
        src = np.ascontiguousarray(np.asarray(d.scale, np.int8))
        blocks.append((rows, gather_payload(src, t.lo[rows, 0], source_offsets(layout_map((1,), 1, sram.wb), (1,), 1,
                                                                                (1,)), sram.wb)))
    sram.set_payload(blocks)
    sram.m.tally.sram_writes_dma += int(words[ld].sum())
    sram.m.tally.offchip_read_bytes += int(n_el[ld].sum())


def _compute_reads(t: StepTable, d: VectorData, cp: np.ndarray, wb: int, name: str, passes: int):  # noqa: ANN202
    """A read group per (operand, chunk size) of the compute steps (full-size operands read ``passes`` times);
    checks what each step finds resident."""
    groups, ops = [], []
    rd = t.reads
    for key in d.order:
        op = "scale" if key[0] == "scale" else f"inputs{key[1]}"
        res = last_of((t.kind == LOAD) & (t.operand == OP[op]))[cp]
        r = np.maximum(res, 0)
        ok = (res >= 0) & (t.lo[r, 0] == t.lo[cp, 0])
        if op != "scale":
            ok &= (t.lo[r, 1] == t.lo[cp, 1]) & (t.hi[r, 1] == t.hi[cp, 1])
        if not ok.all():
            i = int(cp[~ok][0])
            raise FunctionalSimError(f"{name}: compute on {t.step(i).region} but {op} holds another tile")
        sel = rd.operand == OP[op]
        base = np.full(t.kind.size, -1, np.int64)
        base[rd.step[sel]] = rd.base_word[sel]
        n = np.ones(cp.size, np.int64) if op == "scale" else t.hi[cp, 1] - t.lo[cp, 1]
        for cls in classes(n):
            w = -(-int(n[cls[0]]) // wb)
            mult = np.full(w, 1 if op == "scale" else passes, np.int64)
            groups.append(ReadGroup(cp[cls], base[cp[cls]], res[cls], mult))
            ops.append((key, cls))
    return groups, ops


def _operands(t: StepTable, d: VectorData, sh, groups: list[ReadGroup], data: list[np.ndarray],  # noqa: ANN001
              ops: list) -> list[np.ndarray]:
    """The kernel's operands as the SRAM gave them: full-size ones as (segments, seg_len), scalars (segments, 1)."""
    args = {key: np.zeros((sh.segments, 1 if key[0] == "scale" else sh.seg_len), np.int8) for key in d.order}
    for g, x, (key, _) in zip(groups, data, ops):
        n = 1 if key[0] == "scale" else int(t.hi[g.rows[0], 1] - t.lo[g.rows[0], 1])
        vals = x.reshape(g.rows.size, -1)[:, :n].view(np.int8)
        seg = t.lo[g.rows, 0]
        if key[0] == "scale":
            args[key][seg, 0] = vals[:, 0]
        else:
            args[key][seg[:, None], t.lo[g.rows, 1][:, None] + np.arange(n)] = vals
    return [args[key] for key in d.order]


def _kernel(d: VectorData, sh, args: list[np.ndarray]) -> np.ndarray:  # noqa: ANN001
    if d.reduce:
        return np.asarray(d.kernel(args[0]), np.int8).reshape(sh.segments, 1)  # one mean per segment
    y = d.kernel(*args, at=(0, sh.seg_len)) if d.positional else d.kernel(*args)
    return np.asarray(y, np.int8).reshape(sh.segments, sh.seg_len)


def _store(t: StepTable, sh, d: VectorData, y: np.ndarray, st: np.ndarray, last_write: np.ndarray,  # noqa: ANN001
           m: Machine, words: np.ndarray) -> np.ndarray:
    """Each store takes the results of the compute step whose words it reads (another tile's: nothing)."""
    out = np.zeros((sh.segments, 1 if d.reduce else sh.seg_len), np.int8)
    w = np.maximum(last_write, 0)
    ok = (last_write >= 0) & (t.lo[w, 0] == t.lo[st, 0]) & (t.lo[w, 1] == t.lo[st, 1]) & (t.hi[w, 1] == t.hi[st, 1])
    nbytes = np.where(d.reduce, 1, t.hi[st, 1] - t.lo[st, 1])
    m.tally.offchip_write_bytes += int(nbytes.sum())
    good = st[ok]
    if d.reduce:
        out[t.lo[good, 0], 0] = y[t.lo[good, 0], 0]
    else:
        mask = np.zeros(out.shape, bool)
        diff = np.zeros((sh.segments, sh.seg_len + 1), np.int64)
        np.add.at(diff, (t.lo[good, 0], t.lo[good, 1]), 1)
        np.add.at(diff, (t.lo[good, 0], t.hi[good, 1]), -1)
        mask = np.cumsum(diff, axis=1)[:, :-1] > 0
        out[mask] = y[mask]
    bad = np.flatnonzero(~ok | (nbytes != t.offchip_bytes[st]) | (words[st] != t.sram_reads[st]))
    for j in bad[:3]:
        m.note(f"{sh.name}: store {t.step(int(st[j])).region}: {words[st[j]]} words / {nbytes[j]} B, step says "
               f"{t.sram_reads[st[j]]} / {t.offchip_bytes[st[j]]}" + ("" if ok[j] else "; another step's results"))
    return out


def _compute_notes(t: StepTable, m: Machine, cp: np.ndarray, reads: np.ndarray, words: np.ndarray, name: str) -> None:
    bad = cp[(reads[cp] != t.sram_reads[cp]) | (words[cp] != t.sram_writes[cp])]
    for i in bad[:3]:
        m.note(f"{name}: compute {t.step(int(i)).region}: {reads[i]} reads / {words[i]} writes, step says "
               f"{t.sram_reads[i]} / {t.sram_writes[i]}")
