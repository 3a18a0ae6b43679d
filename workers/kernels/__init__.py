"""Compiled on-line SGD for K nets as SIMD lanes: the 1997 LSTM (`lstm1997`, truncated gradient
by forward accumulation) and the baselines (`baselines`, full BPTT), on shared helpers (`simd`).

numba compiles a kernel (or loads it from its on-disk cache) on its first call; import the module
you need (``from workers.kernels import lstm1997``)."""
