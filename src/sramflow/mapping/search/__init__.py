"""Schedule choice: tiling tables of Conv/Gemm layers (``tiling_table``), kept on disk (``table_store``) and in
memory (``table_cache``); the choice for one shape (``choose``), a whole graph (``network``), a whole graph for many
hardware points at once (``plan``, the sweep's path) and under a network cycle budget (``budget``)."""
