"""Mapping of graph nodes onto the SRAM: tilings, loop orders, buffer allocation, explicit schedules.

Counting conventions (shared by the closed forms and every ``steps()`` enumeration; the functional
simulator must reproduce them exactly):
- Activations and weights are int8 (1 byte per element), biases and spilled partial sums int32 (4 bytes).
- Every buffer starts on a word boundary. A DMA load of a tile writes ceil(bytes / word_bytes) words
  (weights, biases, partial sums, vector chunks: packed; conv input tiles: one padded window per channel,
  each window row starting on a word, so ceil(window_cols / word_bytes) words per row). Zero padding is
  written by the DMA (counted as SRAM writes) but never fetched off-chip: off-chip bytes are exact.
- Compute reads count words: each step reads its weight tile once (a word is latched while its bytes are
  used), its input window once per kernel offset (rows of the window the offset needs, whole row words)
  unless the kernel is 1x1 or the per-channel window fits the register file, then once; the bias once per
  output tile, a spilled partial-sum tile once per reload. Results: ceil(n * bytes / word_bytes) word
  writes, read again by the store DMA.
- MAC cycles per step = ceil(step MACs / MACs per cycle): the array abstraction is "up to N MACs per
  cycle on the output tile held in the accumulators" (no array geometry in the description).
- Swaps = DMA loads (refills of a tile buffer). DMA transfers = loads + stores; off-chip latency is paid
  once per transfer.
"""
