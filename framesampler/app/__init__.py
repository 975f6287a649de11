"""The runs users start: prepare, train, evaluate, experiments, extract, batch, the pipeline, the demo."""
