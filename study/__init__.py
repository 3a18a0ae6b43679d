"""The study driver: spec parsing, search spaces, the ask -> Ray -> tell loop and every database
write, plus the read queries the dashboard uses.

Modules (import them directly; this package imports nothing, so ``study.schema`` stays cheap
for the dashboard):

* `study.spec`: TOML spec -> frozen, validated ``Spec`` (``SpecError`` names file and field).
* `study.validate`: the field-by-field checks behind `study.spec.parse_spec`.
* `study.space`: conditional Optuna suggestions, grid enumeration, params -> ``TrialConfig``,
  the seeded sampler and pruner.
* `study.storage`: SQLite (WAL) and PostgreSQL (pre-ping, small pool) engines, sessions.
* `study.schema`: our tables beside Optuna's.
* `study.record`: every write (our rows, then Optuna's tell).
* `study.driver`: the ask -> submit -> ``ray.wait`` -> tell loop, resume, failures, Ctrl-C.
* `study.progress`: the terminal progress bar.
* `study.queries`: read queries (state counts, success table).
* `study.cli`: the ``study-launch`` console script.
"""
