"""sramflow: INT8 CNN inference on a tiny on-chip SRAM, modelled honestly.

Importing this package is cheap: heavy dependencies (torch, onnx) are imported
only by the modules that need them.
"""

__version__ = "0.1.0"
