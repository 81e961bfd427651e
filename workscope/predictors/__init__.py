"""Predictors: windowed datasets from traces, a CloudFormer-style dual-branch transformer,
honest baselines, training and evaluation on splits that hold out unseen entities."""
