"""Getting a fitted model out: model files (safetensors + JSON, never pickle), ONNX / TorchScript."""
