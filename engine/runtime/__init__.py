"""Serving runtime: onnxruntime sessions, served model directories, window sampling. No torch.

    from engine.runtime.model import ServedModel
    from engine.runtime.window import plan_window, sample_window
"""
