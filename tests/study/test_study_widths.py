"""Sequence counts are 64-bit (issue 8, point 5): a budget of 3e9 sequences is stored on SQLite
and PostgreSQL, and a PostgreSQL database created with 32-bit columns is widened on first use."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from study_helpers import tiny_spec

from study import record
from study.schema import SeedRow, StudyRow
from study.space import search_space
from study.specfile import load_spec
from study.storage import make_engine, session_scope


def test_a_budget_beyond_32_bits_is_stored(storage_url: str, tmp_path: Path) -> None:
    spec = load_spec(tiny_spec(tmp_path, max_sequences=3_000_000_000))
    engine = make_engine(storage_url)
    record.ensure_schema(engine)
    if engine.dialect.name == "postgresql":  # as tables created by an earlier version were
        with engine.begin() as conn:
            for table, col in (("carousel_studies", "max_sequences"),
                               ("carousel_seeds", "sequences_trained")):  # fmt: skip
                conn.execute(sa.text(f"ALTER TABLE {table} ALTER COLUMN {col} TYPE INTEGER"))
        record.ensure_schema(engine)  # widens them again
        types = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns("carousel_seeds")}
        assert isinstance(types["sequences_trained"], sa.BigInteger)
    study_id = record.begin_study(engine, spec, search_space(spec))
    with session_scope(engine) as s:
        assert s.get_one(StudyRow, study_id).max_sequences == 3_000_000_000
    assert isinstance(SeedRow.__table__.c.seq_literal.type, sa.BigInteger)
    engine.dispose()
