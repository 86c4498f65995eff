"""An exhaustive convolution tiling search written from the schedule's definition: the oracle for
``sramflow.mapping.search.choose.search_conv``, which must choose the same tiling with the same counts.

Independent of what it checks: from sramflow it takes only data types (``ConvShape``, ``ConvTiling``,
``HardwareSpec``), never the counting (``mapping.conv``, ``mapping.steps_table``, ``mapping.search``) nor the
pricing (``cost``). Everything else is written here from the definitions in ``mapping.conv`` and
``mapping.conv_schedule``'s docstrings, as plain scalar Python:

- the search space: tile sizes ceil(N / n) per dimension (g, k, c, h, w) with an output tile row (g x w) within the
  accumulators, every order of the loops that have more than one iteration (the others outermost), single and
  (where the SRAM allows) double buffering; a tiling fits when its buffers (bias once, weights, inputs and outputs
  or partial sums once, or twice when double-buffered and the operand has more than one tile) fit the SRAM words;
- accumulator groups: a tile whose pixels fit the accumulators is one pixel group of accumulators // pixels output
  channels; a larger one runs groups of whole rows, one channel over accumulators // (g x w) rows or 2, 4, 8 or 16
  channels (at most the tile's) over the rows that then fit (at least one), the one whose step reads the fewest
  SRAM words (weights, bias and input window), the first of those;
- the counts: the loop nest is walked step by step; an operand is loaded when the tile it needs differs from the
  resident one (biases at the last reduction step of an output tile), partial sums spill when another output tile
  is computed between two reduction steps of one output tile and are kept in the SRAM when they do not spill but the
  tile holds more than one accumulator group; each step's SRAM words, reads and MAC cycles come from its tile sizes;
- the pricing: cycles and energy from the ``HardwareSpec`` numbers (link bandwidth, latency per burst, SRAM ports
  and banks, MAC / vector rates, energies per access, static power x time, idle-clock energy).

The choice: the least (objective, the other metric), the first in (loop order, single before double, candidate)
order among equals. Slow (a Python loop over every step of every tiling and loop order), so it is run on small
layers only (``ORACLE_SHAPES``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache

from sramflow.errors import MappingError
from sramflow.hw.spec import HardwareSpec
from sramflow.mapping.conv import ConvShape, ConvTiling

LOOPS = ("g", "k", "c", "p")
DIMS = ("g", "k", "c", "h", "w")
BIAS_BYTES = 4  # int32 biases
COUNT_FIELDS = ("macs", "vector_ops", "lut_ops", "register_accesses", "sram_reads_compute", "sram_writes_compute",
                "sram_writes_dma", "sram_reads_dma", "offchip_weight_bytes", "offchip_input_bytes",
                "offchip_output_bytes", "offchip_psum_read_bytes", "offchip_psum_write_bytes", "dma_transfers",
                "dma_loads", "dma_bursts", "mac_cycles", "vector_cycles", "steps")

# Small layers covering what the search handles: strides 1 and 2, depthwise, pointwise, 3x3 and 5x5 kernels,
# odd sizes, dilation, INT4 (packed) weights, no bias, a Gemm and an average pool (vector unit).
# ConvShape(name, groups, k/group, c/group, in_h, in_w, out_h, out_w, kh, kw, stride_h, stride_w, pad_top, pad_left)
ORACLE_SHAPES = (
    ConvShape("c3s1", 1, 4, 3, 5, 5, 5, 5, 3, 3, 1, 1, 1, 1),
    ConvShape("c3s2", 1, 3, 2, 7, 7, 4, 4, 3, 3, 2, 2, 1, 1),
    ConvShape("dw3s2", 6, 1, 1, 7, 7, 4, 4, 3, 3, 2, 2, 1, 1),
    ConvShape("dw5", 4, 1, 1, 5, 5, 5, 5, 5, 5, 1, 1, 2, 2),
    ConvShape("pw", 1, 6, 5, 3, 3, 3, 3, 1, 1, 1, 1, 0, 0),
    ConvShape("pw_int4", 1, 5, 7, 3, 3, 3, 3, 1, 1, 1, 1, 0, 0, weight_bits=4),
    ConvShape("c5s2_int4", 1, 3, 3, 9, 9, 5, 5, 5, 5, 2, 2, 2, 2, weight_bits=4),
    ConvShape("dil2_nobias", 1, 3, 2, 6, 6, 6, 6, 3, 3, 1, 1, 2, 2, dilation_h=2, dilation_w=2, has_bias=False),
    ConvShape("fc", 1, 10, 12, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0),
    ConvShape("avgpool", 4, 1, 1, 6, 6, 3, 3, 2, 2, 2, 2, 0, 0, has_bias=False, pool_op="avg"),
)


@dataclass(frozen=True)
class Choice:
    """The oracle's schedule: its tiling, its counts (``Counts`` field -> int), the words of one slot of each
    buffer (operands with none left out), and its price."""

    tiling: ConvTiling
    counts: dict[str, int]
    buffer_words: dict[str, int]
    cycles: int
    energy_pj: float


def matches(schedule: object, choice: Choice) -> bool:
    """Whether a ``ConvSchedule`` has the oracle's tiling, counts and buffer sizes."""
    counts = {f: getattr(schedule.counts, f) for f in COUNT_FIELDS}
    words = {b.operand: b.size_words for b in schedule.buffers if b.slot == 0}
    return (schedule.tiling, counts, words) == (choice.tiling, choice.counts, choice.buffer_words)


@dataclass(frozen=True)
class _Params:
    """What the counts depend on, read from the hardware description (the SRAM size, buffering and burst size
    only decide which tilings fit and how transfers split: ``search_conv_reference`` reads them)."""

    word_bytes: int
    macs_per_cycle: int
    accumulators: int
    register_window_bytes: int  # a per-channel input window up to this size is read once from the SRAM
    input_row_bytes: int  # an input window row up to this size is read once per kernel row, not per kernel offset
    registers: bool  # a register file, accessed once per MAC


def _params(shape: ConvShape, hw: HardwareSpec) -> _Params:
    m, mac, rf = hw.sram[0], hw.mac_array, hw.register_file
    pool = bool(shape.pool_op)  # pooling runs on the vector unit: one output per lane, no registers
    lanes = hw.vector_unit.lanes
    return _Params(word_bytes=m.word_bits // 8, macs_per_cycle=lanes if pool else mac.macs_per_cycle,
                   accumulators=lanes if pool else mac.accumulators,
                   register_window_bytes=0 if pool or rf is None else rf.bytes_per_lane * mac.macs_per_cycle,
                   input_row_bytes=0 if pool else mac.input_register_bytes, registers=rf is not None and not pool)


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _split(extent: int, size: int) -> list[int]:
    """The sizes of consecutive pieces of ``size`` covering ``extent`` (the last one may be smaller)."""
    return [min(size, extent - lo) for lo in range(0, extent, size)]


def _tile_sizes(extent: int) -> list[int]:
    return sorted({_ceil(extent, n) for n in range(1, extent + 1)})


def _psum_bytes(shape: ConvShape) -> int:
    """Bytes of an exact partial sum: a sum of c x kh x kw products of an int8 input minus its zero point
    (|x - zp| <= 255) and an int8 weight (|w| <= 128), as the fewest whole two's-complement bytes, at most 4."""
    bound = shape.c_per_group * shape.kernel_h * shape.kernel_w * 255 * 128
    nbytes = 1
    while bound > 2 ** (8 * nbytes - 1) - 1 and nbytes < 4:
        nbytes += 1
    return nbytes


def _window(out_n: int, stride: int, kernel: int, dilation: int) -> int:
    """Input rows (or columns) the padded window of ``out_n`` consecutive outputs spans."""
    return (out_n - 1) * stride + (kernel - 1) * dilation + 1


def _groups(shape: ConvShape, p: _Params, tile: dict[str, int]) -> tuple[int, int]:
    """(output channels, tile rows) per accumulator group."""
    pixels = tile["g"] * tile["h"] * tile["w"]
    if pixels <= p.accumulators:
        return min(tile["k"], max(p.accumulators // pixels, 1)), tile["h"]
    row = tile["g"] * tile["w"]
    options = [(1, min(tile["h"], p.accumulators // row))]
    options += [(n, min(tile["h"], p.accumulators // (row * n))) for n in (2, 4, 8, 16)
                if n <= tile["k"] and p.accumulators // (row * n) >= 1]

    def reads(option: tuple[int, int]) -> int:  # SRAM words one step reads (its weights, bias and input window)
        st = _step(shape, p, tile, *option, 4)
        return st.w_reads + st.b_reads + st.i_reads

    return min(options, key=reads)  # the first of the fewest


@dataclass(frozen=True)
class _Step:
    """What one compute step of tile sizes (g, k, c, h, w) reads, writes and moves."""

    w_words: int
    w_reads: int
    w_bytes: int
    i_words: int
    i_reads: int
    b_words: int
    b_reads: int
    o_words: int
    p_words: int
    macs: int
    mac_cycles: int


def _step(shape: ConvShape, p: _Params, s: dict[str, int], group_k: int, group_h: int, psum_bytes: int) -> _Step:
    wb, khw = p.word_bytes, shape.kernel_h * shape.kernel_w
    k_groups, row_groups = _split(s["k"], group_k), _split(s["h"], group_h)
    rows = _window(s["h"], shape.stride_h, shape.kernel_h, shape.dilation_h)
    cols = _window(s["w"], shape.stride_w, shape.kernel_w, shape.dilation_w)
    row_words = _ceil(cols, wb)

    def whole_window(out_rows: int) -> bool:  # the group's input window is read once (no kernel re-reads)
        return khw == 1 or _window(out_rows, shape.stride_h, shape.kernel_h, shape.dilation_h) * cols \
            <= p.register_window_bytes

    def window_rows_read(out_rows: int) -> int:  # per channel, by one group of ``out_rows`` output rows
        if whole_window(out_rows):
            return _window(out_rows, shape.stride_h, shape.kernel_h, shape.dilation_h)
        per_row = shape.kernel_h if cols <= p.input_row_bytes else khw
        return per_row * out_rows

    # one row group reading its window once: the window's bytes stored back to back, else each row on whole words
    packed = len(row_groups) == 1 and whole_window(s["h"])
    window_bytes = s["g"] * s["c"] * rows * cols
    i_words = _ceil(window_bytes, wb) if packed else s["g"] * s["c"] * rows * row_words
    i_reads = len(k_groups) * (i_words if packed else
                               s["g"] * s["c"] * row_words * sum(window_rows_read(r) for r in row_groups))
    bits = shape.weight_bits
    w_per_channel = 0 if shape.pool_op else s["g"] * s["c"] * khw  # weights of one output channel
    b_per_channel = s["g"] * BIAS_BYTES if shape.has_bias else 0
    w_words = sum(_ceil(kg * w_per_channel * bits, 8 * wb) for kg in k_groups)  # each group from a new word
    b_words = sum(_ceil(kg * b_per_channel, wb) for kg in k_groups)
    avg = 1 if shape.pool_op == "avg" else 0  # one requantize per output
    per_output = s["c"] * khw + avg
    o_words = p_words = mac_cycles = 0
    for kg, rg in itertools.product(k_groups, row_groups):  # each group's outputs on their own words
        outputs = kg * rg * s["g"] * s["w"]
        o_words += _ceil(outputs, wb)
        p_words += _ceil(outputs * psum_bytes, wb)
        mac_cycles += _ceil(outputs * per_output, p.macs_per_cycle)
    return _Step(w_words=w_words, w_reads=len(row_groups) * w_words, w_bytes=_ceil(s["k"] * w_per_channel * bits, 8),
                 i_words=i_words, i_reads=i_reads, b_words=b_words, b_reads=len(row_groups) * b_words,
                 o_words=o_words, p_words=p_words, macs=s["g"] * s["k"] * s["h"] * s["w"] * per_output,
                 mac_cycles=mac_cycles)


def _inside(lo: int, n: int, extent: int) -> int:
    """How many of the ``n`` positions from ``lo`` lie in [0, extent)."""
    return max(0, min(lo + n, extent) - max(lo, 0))


def _orders(shape: ConvShape) -> list[tuple[str, ...]]:
    trips = {"g": shape.groups, "k": shape.k_per_group, "c": shape.c_per_group, "p": shape.out_h * shape.out_w}
    active = [lp for lp in LOOPS if trips[lp] > 1]
    idle = tuple(lp for lp in LOOPS if trips[lp] == 1)
    return [idle + perm for perm in itertools.permutations(active)]


def _bursts(nbytes: int, burst_bytes: int) -> int:
    return 1 if burst_bytes <= 0 else max(1, _ceil(nbytes, burst_bytes))


def walk_counts(shape: ConvShape, hw: HardwareSpec, tiling: ConvTiling) -> tuple[dict[str, int], dict[str, int]]:
    """(counts, words of one slot of each buffer) of ``tiling``, by walking its loop nest step by step."""
    sizes = (tiling.tile_g, tiling.tile_k, tiling.tile_c, tiling.tile_h, tiling.tile_w)
    return _counts(shape, _params(shape, hw), sizes, tiling.order, tiling.group_k, tiling.group_h,
                   hw.offchip.burst_bytes)


def _counts(shape: ConvShape, p: _Params, sizes: tuple[int, ...], order: tuple[str, ...], group_k: int,
            group_h: int, burst_bytes: int) -> tuple[dict[str, int], dict[str, int]]:
    """``_walk``'s counts with ``dma_bursts``: each transfer of n bytes is ceil(n / burst_bytes) transactions."""
    c, transfer_bytes, words = _walk(shape, p, sizes, order, group_k, group_h)
    bursts = sum(times * _bursts(nbytes, burst_bytes) for nbytes, times in transfer_bytes.items())
    return c | {"dma_bursts": bursts}, words


@lru_cache(maxsize=1 << 16)
def _walk(shape: ConvShape, p: _Params, sizes: tuple[int, ...], order: tuple[str, ...], group_k: int,
          group_h: int) -> tuple[dict[str, int], dict[int, int], dict[str, int]]:
    """(counts but ``dma_bursts``, how many transfers move each number of bytes, words of one slot of each
    buffer) of a tiling: its loop nest walked step by step (cached: SRAM and burst sizes do not change it)."""
    tile = dict(zip(DIMS, sizes))
    ext = {"g": shape.groups, "k": shape.k_per_group, "c": shape.c_per_group, "h": shape.out_h, "w": shape.out_w}
    pieces = {d: _split(ext[d], tile[d]) for d in DIMS}
    n = {d: len(pieces[d]) for d in DIMS}
    n["p"] = n["h"] * n["w"]
    pb = _psum_bytes(shape)
    step_of: dict[tuple[int, ...], _Step] = {}

    def step(idx: dict[str, int]) -> _Step:
        key = tuple(pieces[d][idx[d]] for d in DIMS)
        if key not in step_of:
            step_of[key] = _step(shape, p, dict(zip(DIMS, key)), group_k, group_h, pb)
        return step_of[key]

    rows_in = [_inside(i * tile["h"] * shape.stride_h - shape.pad_top,
                       _window(pieces["h"][i], shape.stride_h, shape.kernel_h, shape.dilation_h), shape.in_h)
               for i in range(n["h"])]
    cols_in = [_inside(i * tile["w"] * shape.stride_w - shape.pad_left,
                       _window(pieces["w"][i], shape.stride_w, shape.kernel_w, shape.dilation_w), shape.in_w)
               for i in range(n["w"])]
    seq = []
    for pos in itertools.product(*(range(n[lp]) for lp in order)):
        at = dict(zip(order, pos))
        seq.append((at["g"], at["k"], at["c"], at["p"] // n["w"], at["p"] % n["w"]))
    # partial sums spill when some step moves to another output tile in the middle of a reduction
    spill = any(cur[2] != 0 and (cur[0], cur[1], cur[3], cur[4]) != (prev[0], prev[1], prev[3], prev[4])
                for prev, cur in zip(seq, seq[1:]))
    keep = n["c"] > 1 and not spill and (group_k < tile["k"] or group_h < tile["h"])
    psum = spill or keep
    c = dict.fromkeys(COUNT_FIELDS, 0)
    transfer_bytes: dict[int, int] = {}

    def transfer(load: bool, nbytes: int, words: int, field: str) -> None:
        c[field] += nbytes
        c["sram_writes_dma" if load else "sram_reads_dma"] += words
        c["dma_transfers"] += 1
        c["dma_loads"] += load
        transfer_bytes[nbytes] = transfer_bytes.get(nbytes, 0) + 1

    resident: dict[str, tuple] = {}
    for gi, ki, ci, hi, wi in seq:
        idx = {"g": gi, "k": ki, "c": ci, "h": hi, "w": wi}
        s = {d: pieces[d][idx[d]] for d in DIMS}
        q = step(idx)
        first, last = ci == 0, ci == n["c"] - 1
        if last and shape.has_bias and resident.get("bias") != (gi, ki):
            resident["bias"] = (gi, ki)
            transfer(True, s["g"] * s["k"] * BIAS_BYTES, q.b_words, "offchip_weight_bytes")
        if not shape.pool_op and resident.get("weights") != (gi, ki, ci):
            resident["weights"] = (gi, ki, ci)
            transfer(True, q.w_bytes, q.w_words, "offchip_weight_bytes")
        if resident.get("inputs") != (gi, ci, hi, wi):
            resident["inputs"] = (gi, ci, hi, wi)
            transfer(True, s["g"] * s["c"] * rows_in[hi] * cols_in[wi], q.i_words, "offchip_input_bytes")
        outputs = s["g"] * s["k"] * s["h"] * s["w"]
        if spill and not first:
            transfer(True, outputs * pb, q.p_words, "offchip_psum_read_bytes")
        c["steps"] += 1
        c["macs"] += q.macs
        c["mac_cycles"] += q.mac_cycles
        c["sram_reads_compute"] += q.w_reads + q.i_reads + (q.b_reads if last else 0) \
            + (q.p_words if psum and not first else 0)
        c["sram_writes_compute"] += q.o_words if last else (q.p_words if psum else 0)
        if last:
            transfer(False, outputs, q.o_words, "offchip_output_bytes")
        elif spill:
            transfer(False, outputs * pb, q.p_words, "offchip_psum_write_bytes")
    c["register_accesses"] = c["macs"] if p.registers else 0
    if shape.pool_op:
        c["vector_ops"], c["vector_cycles"], c["macs"], c["mac_cycles"] = c["macs"], c["mac_cycles"], 0, 0
    full = step({d: 0 for d in DIMS})
    words = {"bias": full.b_words, "weights": full.w_words, "inputs": full.i_words,
             "outputs": full.p_words if psum else full.o_words}
    return c, transfer_bytes, {op: w for op, w in words.items() if w > 0}


def price(c: dict[str, int], hw: HardwareSpec, double: bool) -> tuple[int, float]:
    """(cycles, energy in pJ) of counts ``c`` on ``hw``: transfers overlap compute when ``double``, else each
    step's transfers and compute take turns."""
    m, off, mac, vec, rf = hw.sram[0], hw.offchip, hw.mac_array, hw.vector_unit, hw.register_file

    def port(reads: int, writes: int) -> int:  # cycles of the SRAM banks' ports
        busy = max(writes, _ceil(reads + writes, 2)) if m.ports == "1rw1r" else reads + writes
        return _ceil(busy, m.banks)

    read_bytes = c["offchip_weight_bytes"] + c["offchip_input_bytes"] + c["offchip_psum_read_bytes"]
    write_bytes = c["offchip_output_bytes"] + c["offchip_psum_write_bytes"]
    reads = c["sram_reads_compute"] + c["sram_reads_dma"]
    writes = c["sram_writes_compute"] + c["sram_writes_dma"]
    link = math.ceil((read_bytes + write_bytes) / off.bandwidth_bytes_per_cycle) + off.latency_cycles * c["dma_bursts"]
    sram = port(reads, writes)
    if double:
        cycles = max(link, sram, c["mac_cycles"], c["vector_cycles"])
    else:
        cycles = max(link, port(c["sram_reads_dma"], c["sram_writes_dma"])) \
            + max(c["mac_cycles"] + c["vector_cycles"], port(c["sram_reads_compute"], c["sram_writes_compute"]))
    static_uw = m.leakage_uw * m.banks + mac.leakage_uw + off.standby_power_uw
    idle_bank_cycles = max(cycles * m.banks - sram * m.banks, 0)
    # summed in the order the energy components are reported (off-chip, SRAM reads, SRAM writes, MACs, vector,
    # registers, static + idle): floating-point sums depend on their order, and an exact tie must stay a tie
    energy = (read_bytes * off.read_energy_pj_per_byte + write_bytes * off.write_energy_pj_per_byte) \
        + reads * m.read_energy_pj + writes * m.write_energy_pj + c["macs"] * mac.energy_pj_per_mac \
        + (c["vector_ops"] * vec.energy_pj_per_op + c["lut_ops"] * vec.energy_pj_per_lut) \
        + c["register_accesses"] * (rf.energy_pj_per_access if rf else 0.0) \
        + (static_uw * (cycles / (hw.clock_mhz * 1e6)) * 1e6 + idle_bank_cycles * m.idle_energy_pj_per_cycle)
    return cycles, energy


def search_conv_reference(shape: ConvShape, hw: HardwareSpec, objective: str) -> Choice:
    """The best fitting tiling of ``shape`` on ``hw`` for ``objective`` ("latency", "energy", "edp")."""
    p, m = _params(shape, hw), hw.sram[0]
    capacity_words = m.words * m.banks
    ext = {"g": shape.groups, "k": shape.k_per_group, "c": shape.c_per_group, "h": shape.out_h, "w": shape.out_w}
    tiles = [dict(zip(DIMS, t)) for t in itertools.product(*(_tile_sizes(ext[d]) for d in DIMS))]
    tiles = [t for t in tiles if t["g"] * t["w"] <= p.accumulators]
    best = None
    for order in _orders(shape):
        for double in (False, True) if m.double_buffering else (False,):
            for t in tiles:
                gk, gh = _groups(shape, p, t)
                c, words = _counts(shape, p, tuple(t[d] for d in DIMS), order, gk, gh, hw.offchip.burst_bytes)
                # double buffering gives an operand a second slot only where it has a next tile to prefetch
                count = {d: -(-ext[d] // t[d]) for d in DIMS}
                tiles_of = {"weights": count["g"] * count["k"] * count["c"],
                            "inputs": count["g"] * count["c"] * count["h"] * count["w"],
                            "outputs": count["g"] * count["k"] * count["h"] * count["w"]}
                need = words.get("bias", 0) + sum(w * (2 if double and tiles_of[op] > 1 else 1)
                                                  for op, w in words.items() if op != "bias")
                if need > capacity_words:
                    continue
                cycles, energy = price(c, hw, double)
                if objective == "latency":
                    key = (float(cycles), energy)
                elif objective == "energy":
                    key = (energy, float(cycles))
                else:
                    key = (cycles * energy, float(cycles))
                if best is None or key < best[0]:
                    tiling = ConvTiling(t["g"], t["k"], t["c"], t["h"], t["w"], order, double,
                                        0 if gk >= t["k"] else gk, 0 if gh >= t["h"] else gh)
                    best = (key, Choice(tiling, c, words, cycles, energy))
    if best is None:
        raise MappingError(f"layer {shape.name!r}: no tiling fits the SRAM")
    return best[1]
