"""TFLite flatbuffer export of a QuantizedGraph, and verification against LiteRT's reference kernels."""
