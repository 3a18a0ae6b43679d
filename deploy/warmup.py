"""Compile the numba kernels once, into ``$NUMBA_CACHE_DIR``, so containers start warm.

Run at image build time (Dockerfile): every worker container of the image then loads the
compiled kernels from the cache instead of compiling them at its first trial (about a minute per
kernel on a small machine). One tiny training run per model family and precision; on another CPU
numba recompiles at first use, as without the cache.
"""

from __future__ import annotations

import time

from workers.config import ModelSpec, TrialConfig
from workers.trainer import train


def main() -> None:
    for precision in ("float64", "float32"):
        for model in ("lstm1997", "elman", "gru", "lstm_forget"):
            t0 = time.monotonic()
            config = TrialConfig(
                task="adding",
                task_params={"T": 12},
                model=ModelSpec(name=model),
                max_sequences=50,
                seeds=2,
                precision=precision,  # type: ignore[arg-type]
            )
            result = train(config)
            print(f"warmup {model} {precision}: {result.backend}, {time.monotonic() - t0:.1f} s")


if __name__ == "__main__":
    main()
