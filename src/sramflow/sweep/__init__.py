"""Design-space exploration: sweep hardware parameters over a space, persist every point, Pareto fronts.

``load_space`` -> ``SweepSpace``; ``run_sweep(space, graph, model_info, SweepOptions)`` -> ``SweepSummary``.
See docs/sweep.md.
"""
