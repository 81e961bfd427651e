"""Replay: turn a trace into workloads other systems run (transforms, sampling, synthesis,
exporters, fidelity)."""
