"""Front ends: ONNX files and PyTorch models, both into the same graph IR through one importer."""
