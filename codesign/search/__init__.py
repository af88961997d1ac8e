"""Hardware-aware per-layer mixed-precision search (sensitivity, greedy/ILP/NSGA-II/random, Pareto)."""
