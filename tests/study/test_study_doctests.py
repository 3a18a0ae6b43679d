"""The runnable examples in the study modules' docstrings hold (they are documentation)."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "module", ["study.bounds", "study.space", "workers.memory", "workers.tasks.paper_rows"]
)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
