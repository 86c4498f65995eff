"""Where each element of a tile lives in the SRAM: the one data-layout definition that the mapper's word
counts assume and the functional simulator (``sramflow.funcsim``) must use.

Layouts (every buffer starts on a word; elements little-endian, ``element_bytes`` consecutive bytes):
- conv weights, tile (g, k, c, ky, kx): split along k into accumulator groups of ``ConvTiling.group_k``
  channels (the last may be smaller); each group starts on a word and holds (g, k_in_group, c, ky, kx)
  row-major, packed; packed 4-bit weights (``ConvShape.weight_bits`` 4, ``TileLayout.element_bits``) the
  same, two per byte within each group, element 2i in the low nibble (a channel may start mid-byte, a group's
  last byte may be half full). Bias (g, k) int32 is split into the same k groups, each group word-aligned and
  (g, k_in_group) row-major. Outputs (g, k, h, w) int8 and partial sums (g, k, h, w), ``ConvShape.psum_bytes``
  bytes each (little-endian two's complement), are stored as one
  word-aligned block per accumulator group (``ConvTiling.group_k`` channels x ``group_h`` rows; k groups
  outermost, then row groups), each block (g, k_in_group, h_in_group, w) row-major.
- conv inputs, padded window (g, c, row, col): row-major; packed (``ceil(g c rows cols / word_bytes)`` words,
  a word may hold the end of one row and the start of the next) when every accumulator group of the step reads
  the whole window once (``conv.packed_window``: one row group, and a 1x1 kernel or a window that fits the
  register file), else every window row starts on a word (``ceil(cols / word_bytes)`` words per row; the pad
  bytes of a row's last word are unused) so that a group reading single rows reads only their words. The DMA
  writes a packed window in byte order, assembling each word from the bytes it holds (as it does within a row).
- partial sums kept in the SRAM (``ConvSchedule.keep_psums``) use the psum layout above in the output
  buffer at the compute step's ``base_word``: the step with ``psum_access`` "write" creates them, "rmw"
  reads and rewrites them in place, "read" reads them and overwrites the buffer with the int8 output layout.
- vector chunks (elem,): packed.
The word counts in ``conv.step_sizes`` and ``vector.vector_counts`` are exactly the words these layouts
span; tests check it against every load step.
"""

from __future__ import annotations

from dataclasses import dataclass

from sramflow.cost.counts import ceil_div
from sramflow.errors import MappingError
from sramflow.mapping.conv import packed_window
from sramflow.mapping.conv_schedule import ConvSchedule
from sramflow.mapping.schedule import Buffer, Step

PER_K_OPERANDS = ("weights", "bias", "outputs", "psums")


@dataclass(frozen=True)
class TileLayout:
    """The layout of one tile in its buffer. ``group_axis`` (index into ``dims``) splits the tile into
    word-aligned groups of ``group_size``, and each such group along ``row_group_axis`` (0: none) into word-aligned
    blocks of ``row_group_size``; ``row_aligned``: every run along the last axis starts on a word."""

    dims: tuple[str, ...]
    extents: tuple[int, ...]
    element_bytes: int
    word_bytes: int
    group_axis: int | None = None
    group_size: int = 0
    row_aligned: bool = False
    row_group_axis: int = 0
    row_group_size: int = 0
    element_bits: int = 8  # 4: packed weights, two per byte (element_bytes 1, not row-aligned)

    def __post_init__(self) -> None:
        if self.element_bits not in (8, 4) or (self.element_bits < 8 and (self.element_bytes != 1 or self.row_aligned)):
            raise MappingError(f"tile {self.dims}: {self.element_bits}-bit elements are packed 1-byte ones, never "
                               "row-aligned")

    def _span_bytes(self, numel: int) -> int:  # bytes ``numel`` consecutive elements take
        return ceil_div(numel * self.element_bytes * self.element_bits, 8)

    @property
    def words(self) -> int:
        """Words the tile spans (what a DMA load of it writes)."""
        if self.row_aligned:
            runs = 1
            for e in self.extents[:-1]:
                runs *= e
            return runs * ceil_div(self.extents[-1] * self.element_bytes, self.word_bytes)
        if self.group_axis is None:
            return ceil_div(self._span_bytes(_numel(self.extents)), self.word_bytes)
        return self._block_base(self.extents[self.group_axis], 0)

    def _blocks(self) -> list[tuple[tuple[int, int], tuple[int, int]]]:
        """(k range, row range) of every block in storage order (one row range when rows are not grouped)."""
        ax, size = self.group_axis, self.group_size
        rows = self.extents[self.row_group_axis] if self.row_group_axis else 1
        rsize = self.row_group_size if self.row_group_axis else 1
        return [((a, min(a + size, self.extents[ax])), (r, min(r + rsize, rows)))
                for a in range(0, self.extents[ax], size) for r in range(0, rows, rsize)]

    def _block_numel(self, kr: tuple[int, int], rr: tuple[int, int]) -> int:
        ext = list(self.extents)
        ext[self.group_axis] = kr[1] - kr[0]
        if self.row_group_axis:
            ext[self.row_group_axis] = rr[1] - rr[0]
        return _numel(tuple(ext))

    def _block_base(self, k0: int, r0: int) -> int:  # first word of the block starting at (k0, r0)
        words = 0
        for kr, rr in self._blocks():
            if (kr[0], rr[0]) == (k0, r0):
                break
            words += ceil_div(self._span_bytes(self._block_numel(kr, rr)), self.word_bytes)
        return words


def _numel(extents: tuple[int, ...]) -> int:
    n = 1
    for e in extents:
        n *= e
    return n


def _row_major(index: tuple[int, ...], extents: tuple[int, ...]) -> int:
    off = 0
    for i, e in zip(index, extents):
        off = off * e + i
    return off


def word_address(buffer: Buffer | int, layout: TileLayout, index: tuple[int, ...]) -> tuple[int, int]:
    """SRAM (word, byte lane) of the first byte of tile element ``index`` (tile-local coordinates, in the
    order of ``layout.dims``), for a tile held in ``buffer`` (or starting at that base word).

    For the functional simulator: the element's ``layout.element_bytes`` bytes follow little-endian from
    that lane (an int32 bias or a 24 / 32-bit partial sum may span two 16-bit words). Use ``conv_tile_layout(sch, step)`` to
    get the layout of the tile a Step loads, computes on or stores; the mapper's word counts assume it.
    A packed 4-bit element shares its byte: ``bit_address`` says which half."""
    word, lane, _ = bit_address(buffer, layout, index)
    return word, lane


def bit_address(buffer: Buffer | int, layout: TileLayout, index: tuple[int, ...]) -> tuple[int, int, int]:
    """(word, byte lane, first bit in that byte) of tile element ``index``: bit 0 for whole-byte elements, 0 or 4
    (low / high nibble) for packed 4-bit ones."""
    base = buffer.base_word if isinstance(buffer, Buffer) else int(buffer)
    if len(index) != len(layout.extents) or any(not 0 <= i < e for i, e in zip(index, layout.extents)):
        raise MappingError(f"index {index} is outside the tile {dict(zip(layout.dims, layout.extents))}")
    wb, eb, bits = layout.word_bytes, layout.element_bytes, layout.element_bits
    if layout.row_aligned:
        run = _row_major(index[:-1], layout.extents[:-1])
        bit = (run * ceil_div(layout.extents[-1] * eb, wb) * wb + index[-1] * eb) * 8
    elif layout.group_axis is None:
        bit = _row_major(index, layout.extents) * eb * bits
    else:
        ax, size = layout.group_axis, layout.group_size
        g0 = index[ax] // size * size
        ext = list(layout.extents)
        ext[ax] = min(size, layout.extents[ax] - g0)
        local = list(index)
        local[ax] -= g0
        r0 = 0
        if layout.row_group_axis:
            rax, rsize = layout.row_group_axis, layout.row_group_size
            r0 = index[rax] // rsize * rsize
            ext[rax] = min(rsize, layout.extents[rax] - r0)
            local[rax] -= r0
        bit = layout._block_base(g0, r0) * wb * 8 + _row_major(tuple(local), tuple(ext)) * eb * bits
    byte = bit // 8
    return base + byte // wb, byte % wb, bit % 8


def conv_tile_layout(sch: ConvSchedule, step: Step) -> TileLayout:
    """Layout of the tile a convolution Step touches: its operand and region decide dims and extents.
    A compute step's outputs use the layout of the store that follows it (int8 outputs or partial sums);
    for the compute step itself this returns the int8 output layout."""
    sh, wb = sch.shape, sch.hw.word_bytes
    ext = {d: b - a for d, a, b in step.region}
    op = step.operand
    if op == "inputs":
        return TileLayout(("g", "c", "row", "col"), (ext["g"], ext["c"], ext["row"], ext["col"]), 1, wb,
                          row_aligned=not bool(window_packed(sch, ext["row"], ext["col"])))
    if op == "weights":
        extents = (ext["g"], ext["k"], ext["c"], sh.kernel_h, sh.kernel_w)
        return TileLayout(("g", "k", "c", "ky", "kx"), extents, 1, wb, group_axis=1, group_size=sch.tiling.group_k,
                          element_bits=sh.weight_bits)
    elif op == "bias":
        dims, extents, eb = ("g", "k"), (ext["g"], ext["k"]), 4
    elif op in ("outputs", "psums", "macs", "vector"):
        dims, eb = ("g", "k", "h", "w"), step.element_bytes if op in ("outputs", "psums") else 1
        extents = (ext["g"], ext["k"], ext["h"], ext["w"])
        return TileLayout(dims, extents, eb, wb, group_axis=1, group_size=sch.tiling.group_k, row_group_axis=2,
                          row_group_size=sch.tiling.group_h)
    else:
        raise MappingError(f"no convolution tile layout for operand {op!r}")
    return TileLayout(dims, extents, eb, wb, group_axis=1, group_size=sch.tiling.group_k)


def window_packed(sch: ConvSchedule, rows, cols):  # noqa: ANN001, ANN201 - ints or arrays
    """Whether an input window of ``rows`` x ``cols`` (a step's padded window) is stored packed
    (``conv.packed_window`` of the step's output rows)."""
    sh = sch.shape
    h = (rows - sh.span_h) // sh.stride_h + 1
    return packed_window(sh, sch.hw, h, cols, sch.tiling.group_h)


def vector_tile_layout(word_bytes: int, elements: int) -> TileLayout:
    """Layout of one vector chunk (each input operand, the output): packed int8."""
    return TileLayout(("elem",), (elements,), 1, word_bytes)
