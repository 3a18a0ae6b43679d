"""Speed and fidelity benchmarks; each prints a comparison measured in one run."""
