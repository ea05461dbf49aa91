"""ONNX export of trained models into manifest-checked model directories."""
