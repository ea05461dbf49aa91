"""The quality yardstick (`python -m engine.bench quality`, docs/benchmarks.md).

    attributes        classes the yardstick measures (family, tempo band, mode) from metadata
    frontend          log-mel crops the classifier sees (numpy)
    mel_cache         the corpus's log-mel, computed once, memory-mapped
    classifier        the CNN with three heads and a `features()` embedding (torch)
    train_classifier  `python -m engine.train classifier`: train, validate, export to ONNX
    embed             the exported classifier at measurement time (onnxruntime)
    notes             note density by basic-pitch's ONNX model (librosa onsets as fallback)
    scores            accuracy / adherence and the joint Frechet distance
    seam              continuation splicing and the seam-continuity measure
    untrained         the weight-permuted reference model
    measure           everything measured about a set of clips; one table row
    bench             the driver: prompts, rows, continuation, listening pack
    report            target verdicts, markdown, JSON, docs block, spectrograms
"""
