"""Integer-only numpy reference kernels, bit-exact with TFLite's reference (BUILTIN_REF) kernels."""
