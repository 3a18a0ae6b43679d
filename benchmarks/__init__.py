"""Speed and fidelity benchmarks; each prints a comparison measured in one run."""

import subprocess
from pathlib import Path


def git_commit() -> str:
    """The short commit of the checkout a benchmark ran on (for its results header)."""
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    return out.stdout.strip()
