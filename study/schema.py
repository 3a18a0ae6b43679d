"""carousel's own SQL tables, beside Optuna's in the same database (SQLAlchemy 2.0).

Optuna's RDB schema holds studies and trials (params, value = success rate, user attrs), so
`optuna.load_study` and `optuna-dashboard` work on our database unchanged. These tables add what
Optuna has no place for, in a shape the dashboard can aggregate in SQL:

* ``carousel_studies``: one row per study: the spec it was launched from, its search space
  (the distributions, as Optuna stores them) and its status.
* ``carousel_trials``: one row per Optuna trial (linked by ``optuna_trial_id``), with the
  aggregate results as real columns (n_seeds, n_solved, ...) so a robustness-map cell is one
  ``GROUP BY``.
* ``carousel_params``: the trial's swept parameters, one row per (trial, name): numeric values in
  ``value_num``, categorical ones in ``value_text``. Any two axes of a map are two joins.
* ``carousel_seeds``: one row per seed of a trial with its per-seed results and learning curve.
* ``carousel_leases``: which driver runs a study now (one driver per study, `study.lease`).

Sequence counts are 64-bit (``BigInteger``): a budget of 3e9 sequences overflows PostgreSQL's
32-bit INTEGER. `study.record.ensure_schema` widens such columns of tables created before.

Only the study driver writes; the dashboard reads.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class StudyRow(Base):
    """A carousel study: spec, task, models and lifecycle."""

    __tablename__ = "carousel_studies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    """Same name as the Optuna study."""
    task: Mapped[str] = mapped_column(String(64))
    models: Mapped[list[str]] = mapped_column(JSON)
    sampler: Mapped[str] = mapped_column(String(32))
    seeds: Mapped[int] = mapped_column(Integer)
    """Seeds per configuration."""
    max_sequences: Mapped[int] = mapped_column(BigInteger)
    reading: Mapped[str] = mapped_column(String(16))
    """Success reading deciding 'solved' (literal / mae / frac99)."""
    lag_param: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """Name of the task parameter that is the lag (T, q, ...), for the lag-curve page."""
    paper_experiment: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """Set for studies run from studies/paper/: which table row they reproduce."""
    spec_toml: Mapped[str] = mapped_column(Text)
    space: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    """model -> parameter -> the Optuna distribution (JSON) its trials are drawn from
    (`study.space.search_space`), rewritten when a grid grows; NULL in studies from before."""
    status: Mapped[str] = mapped_column(String(16), default="running")
    """running / done / stopped / failed."""
    n_planned: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    trials: Mapped[list[TrialRow]] = relationship(back_populates="study")


class TrialRow(Base):
    """One configuration of a study, trained for n_seeds seeds (one Optuna trial)."""

    __tablename__ = "carousel_trials"
    __table_args__ = (
        UniqueConstraint("study_id", "optuna_trial_id"),
        Index("ix_carousel_trials_study_state", "study_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("carousel_studies.id"))
    optuna_trial_id: Mapped[int] = mapped_column(Integer)
    """trials.trial_id in Optuna's schema."""
    number: Mapped[int] = mapped_column(Integer)
    """Optuna trial number within the study."""
    config_key: Mapped[str] = mapped_column(Text)
    """TrialConfig.key(): the configuration, for finding re-queued duplicates."""
    model: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    """RUNNING / COMPLETE / PRUNED / FAIL (mirrors Optuna; `study.record` writes all four)."""
    n_seeds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    n_solved: Mapped[int | None] = mapped_column(Integer, nullable=True)
    n_diverged: Mapped[int | None] = mapped_column(Integer, nullable=True)
    success_rate: Mapped[float | None] = mapped_column(Float, nullable=True)
    seq_to_solve_median: Mapped[float | None] = mapped_column(Float, nullable=True)
    weights: Mapped[int | None] = mapped_column(Integer, nullable=True)
    wall_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    backend: Mapped[str | None] = mapped_column(String(16), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    config: Mapped[dict] = mapped_column(JSON)
    """TrialConfig.to_dict()."""
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    study: Mapped[StudyRow] = relationship(back_populates="trials")
    params: Mapped[list[ParamRow]] = relationship(back_populates="trial")
    seeds: Mapped[list[SeedRow]] = relationship(back_populates="trial")


class ParamRow(Base):
    """One swept parameter value of a trial (EAV, so any two axes aggregate in plain SQL)."""

    __tablename__ = "carousel_params"
    __table_args__ = (
        UniqueConstraint("trial_id", "name"),
        Index("ix_carousel_params_name", "name", "trial_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("carousel_trials.id"))
    name: Mapped[str] = mapped_column(String(64))
    """e.g. model, lr, blocks, cells_per_block, gates, gradient, T."""
    value_num: Mapped[float | None] = mapped_column(Float, nullable=True)
    value_text: Mapped[str | None] = mapped_column(String(255), nullable=True)
    """The value as text for every parameter (categorical and numeric), for display and grouping."""

    trial: Mapped[TrialRow] = relationship(back_populates="params")


class SeedRow(Base):
    """One seed of a trial: SeedResult."""

    __tablename__ = "carousel_seeds"
    __table_args__ = (UniqueConstraint("trial_id", "replicate"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("carousel_trials.id"))
    replicate: Mapped[int] = mapped_column(Integer)
    seed: Mapped[str] = mapped_column(String(24))
    """The 63-bit seed as text (portable across SQLite and PostgreSQL integer widths)."""
    solved: Mapped[bool] = mapped_column(Boolean)
    diverged: Mapped[bool] = mapped_column(Boolean)
    sequences_to_solve: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    seq_literal: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    seq_mae: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    seq_frac99: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    sequences_trained: Mapped[int] = mapped_column(BigInteger)
    final_train_error: Mapped[float | None] = mapped_column(Float, nullable=True)
    test_error: Mapped[float | None] = mapped_column(Float, nullable=True)
    test_wrong: Mapped[int] = mapped_column(BigInteger)
    test_n: Mapped[int] = mapped_column(BigInteger)
    wall_s: Mapped[float] = mapped_column(Float)
    curve: Mapped[list] = mapped_column(JSON)
    """[[sequences, window mean train error, window fraction correct], ...]."""
    metrics: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    """Real-data tasks: test_accuracy, macro_f1, confusion [true][predicted], classes; NULL for
    the paper's tasks (and in databases written before the column existed)."""

    trial: Mapped[TrialRow] = relationship(back_populates="seeds")


class LeaseRow(Base):
    """The driver that runs a study now (`study.lease`): one row per study while one runs."""

    __tablename__ = "carousel_leases"

    study: Mapped[str] = mapped_column(String(255), primary_key=True)
    """The study's name."""
    holder: Mapped[str] = mapped_column(String(255))
    """``host:pid:process start``."""
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime)
    """UTC time of the holder's last heartbeat."""
