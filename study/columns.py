"""Bring an existing database up to our schema: nullable columns added since, and count columns
widened to 64 bits (no migration tool needed).

``create_all`` creates missing tables but never alters existing ones, so a database written by an
older carousel lacks any column added since (e.g. ``carousel_seeds.metrics``). Such columns are
always nullable, so ``ALTER TABLE ... ADD COLUMN`` is all an upgrade takes: old rows read NULL.
SQLite and PostgreSQL both accept it. Sequence counts became ``BigInteger`` (a budget of 3e9
overflows PostgreSQL's INTEGER); `widen_integer_columns` alters such columns of older tables
(SQLite's INTEGER is 64-bit already). Only the study driver calls this (the dashboard never
writes; it reads such a column only where it exists, `dashboard.queries`).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine


def add_missing_columns(engine: Engine, metadata: sa.MetaData) -> list[str]:
    """Add every nullable column of ``metadata``'s tables that the database lacks; returns
    ``table.column`` for each one added."""
    insp = sa.inspect(engine)
    added: list[str] = []
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            if not insp.has_table(table.name):
                continue
            have = {c["name"] for c in insp.get_columns(table.name)}
            for col in table.columns:
                if col.name in have or not col.nullable:
                    continue
                kind = col.type.compile(dialect=engine.dialect)
                prep = engine.dialect.identifier_preparer
                conn.execute(
                    sa.text(
                        f"ALTER TABLE {prep.quote(table.name)} "
                        f"ADD COLUMN {prep.quote(col.name)} {kind}"
                    )
                )
                added.append(f"{table.name}.{col.name}")
    return added


def widen_integer_columns(engine: Engine, metadata: sa.MetaData) -> list[str]:
    """PostgreSQL: ``ALTER ... TYPE BIGINT`` for each BigInteger column stored as INTEGER."""
    if engine.dialect.name != "postgresql":
        return []
    insp = sa.inspect(engine)
    widened: list[str] = []
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            if not insp.has_table(table.name):
                continue
            have = {c["name"]: c["type"] for c in insp.get_columns(table.name)}
            for col in table.columns:
                if isinstance(col.type, sa.BigInteger) and type(have.get(col.name)) is sa.INTEGER:
                    prep = engine.dialect.identifier_preparer
                    conn.execute(
                        sa.text(
                            f"ALTER TABLE {prep.quote(table.name)} "
                            f"ALTER COLUMN {prep.quote(col.name)} TYPE BIGINT"
                        )
                    )
                    widened.append(f"{table.name}.{col.name}")
    return widened
