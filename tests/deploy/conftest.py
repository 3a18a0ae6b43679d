"""The stack tests' fixture: the compose services as local processes, one stack per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from local_stack import LocalStack, postgres_available


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    if (why := postgres_available()) is not None:
        pytest.skip(why)
    s = LocalStack()
    try:
        s.start_postgres()
        s.start_head()
        s.start_worker("worker-a", cpus=2)
        s.wait_ready("postgres")
        s.start_dashboard()
        s.wait_ready("ray-head")
        s.wait_cpus(2)
        yield s
    finally:
        s.stop()
