"""The study driver: spec parsing, search spaces, the ask -> Ray -> tell loop and every database
write, and the few read queries the command line prints (the dashboard has its own).

Modules (import them directly; this package imports nothing, so ``study.schema`` stays cheap
for the dashboard):

* `study.spec`: the spec's types, a frozen ``Spec`` and its axes (``SpecError`` names file and
  field).
* `study.validate`: the field-by-field checks behind `study.specfile.parse_spec`.
* `study.specfile`: reading a spec (TOML text or file) through those checks.
* `study.space`: conditional Optuna suggestions, grid enumeration, params -> ``TrialConfig``,
  the seeded sampler and pruner.
* `study.storage`: SQLite (WAL) and PostgreSQL (pre-ping, small pool) engines, sessions.
* `study.schema`: our tables beside Optuna's.
* `study.record`: every write (our rows, then Optuna's tell).
* `study.driver`: the ask -> submit -> ``ray.wait`` -> tell loop, resume, failures, Ctrl-C.
* `study.lease`: one driver per study (a lease row with a heartbeat).
* `study.retry`: database operations retried through outages, then `StorageOutageError`.
* `study.journal`: results that could not be written yet, kept on local disk.
* `study.bounds`: the largest trial's memory estimate against the machine's limit.
* `study.progress`: the terminal progress bar.
* `study.queries`: read queries (state counts, success table).
* `study.cli`: the ``study-launch`` command; `study.launch` its signal-safe entry point;
  `study.command` the command line to run again.
"""
