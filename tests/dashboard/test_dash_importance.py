"""Importance reads the study's stored distributions (`dashboard.importance`), and rebuilds
them from the stored spec for a study stored before the space column existed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from dash_helpers import StudyDb
from optuna.distributions import CategoricalDistribution

from dashboard import importance, queries
from study.schema import StudyRow
from study.storage import make_engine, session_scope


def _study_id(engine: sa.Engine, name: str) -> int:
    with session_scope(engine) as s:
        sid = s.scalar(sa.select(StudyRow.id).where(StudyRow.name == name))
    assert sid is not None
    return int(sid)


def test_importance_uses_the_stored_distributions(study_db: StudyDb) -> None:
    engine = make_engine(study_db.url, read_only=True)
    sid = _study_id(engine, "dash-map")
    stored, spec_toml = queries.stored_space(engine, sid)
    assert stored is not None
    space = importance.space_of(stored, spec_toml)
    assert space["lstm1997"]["lr"] == CategoricalDistribution([0.1, 1.0])
    assert space["lstm1997"]["p"] == CategoricalDistribution([4, 8])
    trials, params = queries.trials_with_params(engine, sid)
    imp, _ = importance.param_importances(trials, params, space, by_model=False)
    assert not imp.empty and set(imp["param"]) <= {"model", "lr", "p", "blocks"}
    assert imp["importance"].sum() == pytest.approx(1.0)
    by_model, _ = importance.param_importances(trials, params, space)
    assert set(by_model[by_model["scope"] == "elman"]["param"]) <= {"lr", "p"}


def test_a_study_from_before_the_column_reads_its_spec(db_copy: StudyDb) -> None:
    engine = make_engine(db_copy.url)
    sid = _study_id(engine, "dash-map")
    stored, spec_toml = queries.stored_space(engine, sid)
    with engine.begin() as c:
        c.execute(sa.text("ALTER TABLE carousel_studies DROP COLUMN space"))
    again, same_toml = queries.stored_space(engine, sid)
    assert again is None and same_toml == spec_toml
    assert importance.space_of(None, same_toml) == importance.space_of(stored, spec_toml)
