"""The runs users start: prepare, train, evaluate, experiments, construct, extract, the two-resolution pipeline."""
