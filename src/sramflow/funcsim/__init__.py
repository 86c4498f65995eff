"""Functional simulation: execute the mapper's schedule on real INT8 data through a model of the SRAM macro.

The analytical simulator and this one consume the same schedule objects (``ConvSchedule`` /
``VectorSchedule``) and their ``steps()``; this package adds only the data path (see DESIGN.md, sim/).
"""
