"""Fine-tuning the reference checkpoints (EfficientNet-B0 / -Lite0 on HAM10000) on CPU."""
