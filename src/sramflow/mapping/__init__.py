"""Mapping of graph nodes onto the SRAM: tilings, loop orders, buffer allocation, explicit schedules.

Counting conventions (shared by the closed forms and every ``steps()`` enumeration; the functional
simulator must reproduce them exactly):
- Activations and weights are int8 (1 byte per element), biases int32 (4 bytes), partial sums exact in
  ``ConvShape.psum_bytes`` bytes (3 when C x kh x kw <= 257, else 4; see below).
  ``ConvShape.weight_bits = 4`` packs two weights per byte: a weight tile (or accumulator group) takes
  ceil(elements x 4 / 8) bytes off-chip and in the SRAM; MACs are unchanged.
- A node the quantizer fuses into the node before it (``sramflow.ir.fusion``) is a ``mapping.fused.FusedShape``
  with no steps and zero counts, reported as fused naming that node (never dropped): a Relu / Relu6 after a
  Conv / Gemm (the clamp is part of that layer's requantize), the Mul of x * HardSigmoid(x) (the HardSigmoid's
  pass is one HARD_SWISH table look-up per element that yields the product).
- With ``--fusion epilogue`` (``mapping.epilogue``) the element-wise chain after a Conv / Gemm is also a
  ``FusedShape`` (``epilogue=True``) and costs its producer ``epilogue_ops`` vector ops and ``epilogue_lut``
  look-ups per output element, on the compute steps that write int8 outputs (no SRAM accesses, no DMA: the chain
  runs between the requantize stage and the write); an SE scale fused into its consumer's input path adds one
  off-chip transfer of the tile's channels' scale bytes per input tile load and ``input_scale_ops`` vector ops per
  loaded element.
- Every buffer starts on a word boundary. A DMA load of a tile writes ceil(bytes / word_bytes) words
  (weights, biases, partial sums, vector chunks: packed; conv input tiles: one padded window per channel,
  each window row starting on a word, so ceil(window_cols / word_bytes) words per row, unless every accumulator
  group of the step reads the whole window once (one row group, and a 1x1 kernel or a window that fits the
  register file: ``conv.packed_window``), then the window is packed too and each group reads its
  ceil(bytes / word_bytes) words once). Zero padding is
  written by the DMA (counted as SRAM writes) but never fetched off-chip: off-chip bytes are exact.
  Double buffering gives weights, inputs and outputs (or partial sums) a second slot to prefetch into, except
  an operand with one tile in the whole layer: it is loaded once, before the first step (``conv.buffer_words``).
- Compute reads count words, per accumulator group (below): each group reads its weights once (a word is
  latched while its bytes are used), the input window rows of its output rows once per kernel offset (rows the
  offset needs, whole row words) unless the kernel is 1x1 or the group's per-channel window fits the register
  file, then once; when a window row
  (``window_cols`` bytes) fits the MAC array's input operand registers (``HwParams.input_row_bytes``, the
  hardware's declared ``mac_array.input_register_bytes``; 0 = none) once per kernel row instead of once
  per kernel offset (for each kernel row ky and output row, the window row it needs, whole row words; every
  kernel column takes its inputs from the registers); its bias at the first reduction step of the output tile,
  its spilled or kept partial sums at every later one. Results: each group writes ceil(n * bytes / word_bytes)
  words (its own word-aligned block), read again by the store DMA.
- MAC cycles per accumulator group = ceil(group MACs / MACs per cycle): the array abstraction is "up to N MACs
  per cycle on the outputs held in the accumulators" (no array geometry in the description).
- Swaps = DMA loads (refills of a tile buffer). DMA transfers = loads + stores. Off-chip latency is paid
  per transaction: ``dma_bursts`` = sum over transfers of max(1, ceil(bytes / burst_bytes)) (one per transfer
  when the memory's ``burst_bytes`` is 0).
- Accumulator groups: a conv tile row's pixels (g x w) fit the accumulators; its rows and k extent need not.
  The array computes the tile in groups of ``ConvTiling.group_k`` output channels x ``group_h`` tile rows (full
  reduction over the step's channels per group): when the tile's pixels fit the accumulators, all its rows and
  accumulators // pixels channels; otherwise whole rows: one channel and accumulators // (g x w) rows, or
  2-16 channels and the rows that then fit, whichever reads fewer SRAM words (``search.tiling_table.acc_groups``).
  Weights and bias are stored per k group, outputs and partial sums per (k group, row group) block, each
  starting on a word; the weights and bias are read once per group (so once per row group), the input window rows
  once per group (overlapping rows of neighbouring row groups are read again from the SRAM). ``acc_k = acc_h = 0``
  (the defaults) mean one group.
- Partial sums of a tiled reduction never include the bias: the accumulators start from zero and add the
  bias at the last reduction step (which loads and reads it). So a partial sum is a sum of at most
  n = C x kh x kw products (x - zero point) x w, |product| <= 255 x 128, and it is stored exactly in
  ``ConvShape.psum_bytes`` = the fewest whole bytes holding n x 32,640 with its sign (24 bits up to n = 257,
  else int32); the functional simulator packs them so and checks they fit. They live in the accumulators
  when the output tile is one accumulator group; otherwise in the SRAM output buffer (group layout), either
  spilled off-chip between reduction steps (``spill_psums``: the reduction loop encloses an output loop) or
  kept there (``keep_psums``: read-modify-write through the port, no DMA). A compute step with
  ``psum_access`` "write" writes its groups' psums (p words), "rmw" reads and writes them, "read" reads them
  and writes the int8 outputs.
- Pooling (``ConvShape.pool_op``): a depthwise window without weights on the vector unit, one output per
  lane per step; taps (and the average's requantize) are vector ops, not MACs.
- Softmax is a row op (``mapping.vector``, ``whole_segment``): one segment per row of the softmax axis (rows
  must be contiguous in the tensor), the whole row resident, read three times by one compute step (max; subtract,
  exp look-up, accumulate; subtract, exp look-up again, multiply, shift, clamp: 7 ops + 2 look-ups per element)
  plus one reciprocal op per row. The exp table (256 entries) is preloaded in the vector unit's LUT like every
  other table: table loads are not costed for any op.
- Data layout of every tile: ``sramflow.mapping.layout`` (``word_address``); the word counts above are
  exactly the words those layouts span.
"""
