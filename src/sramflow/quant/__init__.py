"""INT8 quantization to the TFLite int8 spec: calibration, the quantize pass, the quantized graph."""
