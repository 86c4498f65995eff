"""Helpers shared by the test modules (test modules import from here, never from each other).

- ``helpers.mapping``: the tiny hand-checkable hardware (``make_hw``), shapes, schedules and the steps() checks.
- ``helpers.graphs``: small IR graphs built by hand, and their quantization.
- ``helpers.tiny_onnx``: a tiny CNN as an ONNX file (no torch).
- ``helpers.torch_nets``: a small torch module covering the exporter's operators.
- ``helpers.once``: an expensive test object built once per run under pytest-xdist (conftest's B0 fixtures).
- ``helpers.ham``: a synthetic HAM10000 folder; ``helpers.lite0``: skip without the Lite0 ImageNet weights.
- ``helpers.conv_search_reference``: an exhaustive tiling search with its own counts and pricing (no sramflow
  counting code), the oracle for the real search, and its small layers ``ORACLE_SHAPES``.
"""
