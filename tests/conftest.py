"""Shared fixtures: a real local Ray instance and one storage fixture over SQLite and PostgreSQL.

* ``ray_local`` (session): ``ray.init(num_cpus=2)`` once per test session, workers pinned to one
  numeric thread like the driver's; yields the GCS address, so a driver subprocess can join the
  same instance with ``--ray-address``.
* ``storage_url``: parametrized ``sqlite`` (a fresh file in ``tmp_path``) and ``postgresql`` (a
  fresh database on the server at ``$CAROUSEL_TEST_PG`` or 127.0.0.1:5432, dropped afterwards;
  skipped with the reason when the server is unreachable). The same test runs against both, as
  Optuna's own storage tests do.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator

import pytest

PG_ADMIN_URL = os.environ.get(
    "CAROUSEL_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
"""A database on the test server we may connect to in order to create and drop others."""


@pytest.fixture(scope="session")
def ray_local() -> Iterator[str]:
    import ray

    from workers.remote import THREAD_ENV

    if not ray.is_initialized():
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
            runtime_env={"env_vars": THREAD_ENV},
        )
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def _pg_admin():  # type: ignore[no-untyped-def]
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(PG_ADMIN_URL)
    try:
        conn = psycopg.connect(
            host=u.host or "127.0.0.1",
            port=u.port or 5432,
            user=u.username or "postgres",
            password=u.password,
            dbname=u.database or "postgres",
            autocommit=True,
            connect_timeout=3,
        )
    except psycopg.OperationalError as e:
        pytest.skip(f"PostgreSQL at {u.host}:{u.port} is unreachable: {str(e).strip()}")
    return u, conn


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test, dropped afterwards."""
    u, conn = _pg_admin()
    name = f"carousel_test_{uuid.uuid4().hex[:12]}"
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield u.set(database=name).render_as_string(hide_password=False)
        finally:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def storage_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> Iterator[str]:
    """The same test against SQLite (a file in tmp_path) and PostgreSQL (a fresh database)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/carousel.db"
    else:
        yield request.getfixturevalue("pg_url")
