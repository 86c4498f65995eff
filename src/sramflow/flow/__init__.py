"""The front end's jobs: calibrate -> quantize (one path), and quantize -> export -> verify end to end.

It sits above ``quant``, ``tflite`` and ``data`` (it chooses the calibration images) and below ``eval``, the
simulators' commands and ``run``, which all take its ``QuantizedGraph`` (see tests/test_architecture.py).
"""
