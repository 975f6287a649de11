"""The runs users start: prepare data and the frozen classifier, train, evaluate, experiments, extract,
construct, batch, and the two-resolution pipeline that ``sample`` runs. Modules are imported on use."""
