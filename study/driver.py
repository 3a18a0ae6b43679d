"""The study driver: an explicit ask -> submit -> ``ray.wait`` -> tell loop, the only DB writer.

One driver process owns a study. It asks Optuna for a trial, turns the parameters into a plain
``TrialConfig`` dict, submits ``workers.remote.run_trial`` as a Ray task (one CPU, K seeds
trained together for their whole budget), and keeps at most ``max_in_flight`` tasks running
(default: the cluster's CPUs). Results are handled in completion order and recorded through
`study.record`; workers never see the database.

* Grid studies: the driver enumerates the grid itself, skips points already COMPLETE in our
  tables (by configuration key), and for each remaining point does ``enqueue_trial`` + ``ask``
  in this single process, so no point is handed out twice, however many workers run.
* Search studies (tpe / random / qmc): plain ``ask`` with a seeded sampler until ``n_trials``
  trials have finished (COMPLETE, PRUNED or FAIL by error).
* Resume: a re-run reaps what a killed driver left behind. RUNNING trials whose result already
  reached our tables are finished from there; the others become FAIL (``fail_reason =
  interrupted``) and their configurations run again (grid: they are not COMPLETE; search: they
  are enqueued). Completed trials are never redone.
* Failures: Ray retries a task whose worker died or that raised (``max_retries``); if it still
  fails, the trial is FAIL with the error message and the study goes on.
* Ctrl-C / SIGTERM: stop submitting, cancel running tasks, mark their trials interrupted (same
  guarantee as a kill); a second Ctrl-C stops at once and leaves the cleanup to the next run.
* One driver per study (`study.lease`): a second driver on the same study stops with exit 2
  naming the first; a dead driver's lease is taken over (at once on the same host).
* Database outages (`study.retry`): every write is retried with backoff for ``db_retry_s``
  (default 120 s); results wait in Ray or in the driver meanwhile. Past the bound the study
  stops (`StorageOutageError`, exit 1), results in hand go to the journal (`study.journal`), and the
  next launch records them first.
* Search samplers are reseeded from the number of trials already stored, so a restarted driver
  does not propose the first run's points again, and a proposal whose configuration the study
  already settled is told its stored value (``duplicate_of``) instead of training it again.
* Pruning (optional): a trial first trains ``stage_seeds`` seeds and reports their success rate;
  if the pruner keeps it, the remaining seeds run as a second task. Seeds derive from (spec seed,
  configuration, replicate), so the staged seeds are the same seeds an unstaged trial trains.

Size note: ~620 lines, over the usual ~400: `Driver` is one state machine (the trials in flight,
the pending grid points, the lease, the journal, the progress bar) whose methods all read and
change that state. What stands alone already lives beside it: growing a grid (`study.plan`), the
lease, the retrier, the journal, every write (`study.record`) and the search space.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import optuna
import ray
from optuna.trial import TrialState

from study import journal, plan, record
from study.lease import Lease, LeaseLostError
from study.progress import Progress
from study.retry import BOUND_S, Retrier, StorageOutageError
from study.space import (
    config_for,
    grid_points,
    make_pruner,
    make_sampler,
    n_planned,
    search_space,
    suggest,
)
from study.spec import Choice, Spec
from study.storage import make_engine, optuna_storage
from workers.config import TrialConfig, TrialResult
from workers.remote import THREAD_ENV, run_trial

T = TypeVar("T")
INTERRUPTED_MSG = "interrupted: the driver stopped while this trial ran; it runs again on resume"
MAX_DUPLICATES = 1000
"""Consecutive repeated proposals after which a search counts its space as exhausted."""


class RayStartError(Exception):
    """Ray could not be started or joined (after one retry)."""


@dataclass
class Outcome:
    """What one driver run did."""

    status: str
    """done (nothing left to run) or stopped (Ctrl-C / SIGTERM)."""
    planned: int
    completed: int = 0
    pruned: int = 0
    failed: int = 0
    interrupted: int = 0
    duplicates: int = 0
    """Search proposals of configurations already settled: told their stored value, not run."""
    journaled: int = 0
    """Results recorded from the journal of an earlier run cut off by a database outage."""
    reaped: int = 0
    """Trials a killed driver left RUNNING (or enqueued, never started): marked FAIL, re-queued."""
    repaired: int = 0
    """RUNNING trials of a previous driver finished from the result already in our tables."""
    errors: list[str] = field(default_factory=list)


@dataclass
class _Launch:
    trial: optuna.Trial
    row_id: int
    params: dict[str, Any]
    config: TrialConfig
    first: TrialResult | None = None
    """Stage-1 result of a pruned study while stage 2 runs."""


@contextlib.contextmanager
def _keep_sigterm() -> Iterator[None]:
    """Around ``ray.init``: it installs its own SIGTERM handler (``sys.exit(15)``) and leaves it
    in place, so a SIGTERM from then on would end the driver with exit 15 instead of the
    resumable stop (exit 130). The caller's handler comes back, and a SIGTERM that lands while
    Ray's handler is in place reads as the interrupt it is."""
    main = threading.current_thread() is threading.main_thread()
    old = signal.getsignal(signal.SIGTERM) if main else None
    try:
        yield
    except SystemExit as e:
        if e.code == signal.SIGTERM:
            raise KeyboardInterrupt from None
        raise
    finally:
        if main and old is not None:
            signal.signal(signal.SIGTERM, old)


def init_ray(address: str | None) -> bool:
    """Start or join Ray unless this process already has; True if this call connected.

    A start that fails (e.g. "node timed out during startup" on a loaded machine) is retried
    once; then `RayStartError` carries its one-line reason."""
    if ray.is_initialized():
        return False
    for attempt in (1, 2):
        try:
            with _keep_sigterm():
                ray.init(
                    address=address,
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level=logging.WARNING,
                    runtime_env={"env_vars": THREAD_ENV},
                )
            return True
        except (KeyboardInterrupt, SystemExit):
            with contextlib.suppress(Exception):
                ray.shutdown()
            raise
        except Exception as e:
            with contextlib.suppress(Exception):
                ray.shutdown()
            if attempt == 2:
                where = f"join Ray at {address}" if address else "start Ray"
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise RayStartError(f"could not {where} (tried twice): {first}") from None
    raise AssertionError("unreachable")


class Driver:
    """Runs one spec against one storage URL; see the module docstring."""

    def __init__(
        self,
        spec: Spec,
        storage: str,
        *,
        ray_address: str | None = None,
        max_in_flight: int | None = None,
        max_retries: int = 2,
        task_fn: Callable[[dict[str, Any]], dict[str, Any]] = run_trial,
        live: bool | None = None,
        db_retry_s: float = BOUND_S,
    ) -> None:
        self.spec, self.url = spec, storage
        self.retrier = Retrier(db_retry_s, notify=self._note)
        self.done: dict[str, dict[str, Any]] = {}
        """Settled configurations (`record.done_configs`), kept current as trials finish."""
        self.journal = journal.journal_path(storage, spec.name)
        self.held: list[dict[str, Any]] = []
        """Results collected but not yet written (journaled if the database stays away)."""
        self.ray_address, self.cap, self.live = ray_address, max_in_flight, live
        self.max_retries, self.task_fn = max_retries, task_fn
        self.grid = spec.sampler == "grid"
        self.swept = {
            n
            for m in spec.models
            for n, a in spec.axes_for(m).items()
            if not (isinstance(a, Choice) and len(a.values) == 1)
        }
        self.inflight: dict[ray.ObjectRef, _Launch] = {}
        self.pending: deque[dict[str, Any]] = deque()
        self.have: dict[str, int] = {}
        """Seeds already stored per configuration key (grid; see `study.plan`)."""
        self.choices: dict[str, list[Any]] = {}
        """A grid study's categorical choices as stored (grown: `study.plan.widen_choices`)."""
        self.budget = 0
        self.stopping = False
        self.outcome = Outcome(status="running", planned=n_planned(spec))

    # -- the run ---------------------------------------------------------------------------
    def run(self) -> Outcome:
        owns_ray = init_ray(self.ray_address)
        self.remote = ray.remote(num_cpus=1, max_retries=self.max_retries, retry_exceptions=True)(
            self.task_fn
        )
        if self.cap is None:
            self.cap = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.engine = make_engine(self.url)  # sets WAL before Optuna's engine touches the file
        self.lease: Lease | None = None
        try:
            db = self.db
            db("creating the schema", lambda: record.ensure_schema(self.engine))
            lease = Lease(self.engine, self.spec.name)
            db("taking the study's lease", lease.acquire)  # LeaseHeldError: another driver runs it
            self.lease = lease
            if self.grid:  # a grown grid: Optuna's stored choices widened before any new trial
                self.choices = db("widening the grid's choices",
                                  lambda: plan.widen_choices(self.engine, self.spec))  # fmt: skip
            self.study = db("opening the study", self._open_study)
            self.study_id = db(
                "recording the study",
                lambda: record.begin_study(
                    self.engine, self.spec, search_space(self.spec, self.choices)
                ),
            )
            self._recover()
            finished = db("planning", self._plan)
            self.progress = Progress(self.spec.name, self.outcome.planned, finished, self.live)
            try:
                self._loop()
            finally:
                self.progress.close()
            db("sweeping orphans", self._reap_orphans)
            self.outcome.status = "stopped" if self.stopping else "done"
            db("closing the study", lambda: record.set_study_status(
                self.engine, self.study_id, self.outcome.status))  # fmt: skip
            return self.outcome
        except BaseException as e:
            if isinstance(e, StorageOutageError):
                self._save_journal()
            lost = isinstance(e, LeaseLostError)
            if lost:
                self.lease = None  # another driver holds it now: release nothing
            self._interrupt_all(write=not lost)
            if hasattr(self, "study_id") and not isinstance(e, StorageOutageError | LeaseLostError):
                status = "stopped" if isinstance(e, KeyboardInterrupt) else "failed"
                with contextlib.suppress(Exception):  # keep the original error
                    record.set_study_status(self.engine, self.study_id, status)
            raise
        finally:
            if self.lease is not None:
                with contextlib.suppress(Exception):  # a dead lease expires by itself
                    self.lease.release()
            self.engine.dispose()
            if owns_ray:
                ray.shutdown()

    def _open_study(self) -> optuna.Study:
        study = optuna.create_study(
            study_name=self.spec.name,
            storage=optuna_storage(self.url),
            direction="maximize",
            sampler=make_sampler(self.spec),
            pruner=make_pruner(self.spec),
            load_if_exists=True,
        )
        if "carousel" not in study.user_attrs:
            study.set_user_attr("carousel", {"task": self.spec.task, "seeds": self.spec.seeds})
        # a restarted search must not replay the first run's proposals: its sampler's stream
        # starts from the number of trials already stored (QMC keeps its own sequence index)
        stored = len(study.get_trials(deepcopy=False))
        if stored and self.spec.sampler in ("random", "tpe"):
            study.sampler = make_sampler(self.spec, restart=stored)
        return study

    def db(self, what: str, op: Callable[[], T], again: Callable[[], T] | None = None) -> T:
        """A database operation, retried through outages (`study.retry`). Once the lease is
        held, every attempt first renews it if another driver could have taken it meanwhile
        (`LeaseLostError`: stop without writing)."""
        lease = getattr(self, "lease", None)

        def guarded(fn: Callable[[], T]) -> Callable[[], T]:
            if lease is None:
                return fn

            def run() -> T:
                if not lease.fresh:
                    lease.beat(force=True)
                return fn()

            return run

        return self.retrier(what, guarded(op), again=None if again is None else guarded(again))

    def _note(self, line: str) -> None:
        if hasattr(self, "progress"):
            self.progress.note(line)
        else:
            print(line, file=sys.stderr, flush=True)

    def _recover(self) -> None:
        """Clean up after a driver that was killed or cut off (see the module docstring)."""
        self.db("replaying the journal", self._replay_journal)
        self.db("reaping trials of an earlier run", self._reap)

    def _replay_journal(self) -> None:
        """Record the results an earlier run held when the database went away."""
        for entry in journal.read(self.journal):
            row = record.row_of(self.engine, int(entry["optuna_trial_id"]))
            if row is None or row[1] != "RUNNING":
                continue
            trial = optuna.Trial(self.study, int(entry["optuna_trial_id"]))
            result = TrialResult.from_dict(entry["result"])
            pruned = bool(entry.get("pruned"))
            record.trial_finished(self.engine, self.study, trial, row[0], result, pruned)
            self.outcome.journaled += 1
        journal.clear(self.journal)

    def _save_journal(self) -> None:
        """Write every result in hand, and every one Ray has ready, to the journal."""
        ready: list[ray.ObjectRef] = []
        with contextlib.suppress(Exception):
            ready, _ = ray.wait(list(self.inflight), num_returns=len(self.inflight), timeout=0)
        for ref in ready:
            launch = self.inflight.pop(ref)
            with contextlib.suppress(Exception):  # a failed task: it runs again on resume
                result = TrialResult.from_dict(ray.get(ref))
                if launch.first is None and self.spec.pruning is None:
                    self.held.append(self._entry(launch, result))
        journal.append(self.journal, self.held)
        self.outcome.journaled = len(self.held)
        self.held = []

    @staticmethod
    def _entry(launch: _Launch, result: TrialResult, pruned: bool = False) -> dict[str, Any]:
        return {
            "optuna_trial_id": launch.trial._trial_id,
            "row_id": launch.row_id,
            "result": result.to_dict(),
            "pruned": pruned,
        }

    def _reap(self) -> None:
        if self.grid:  # enqueued but never asked: a later ask() would pop a stale point
            for _ in self.study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
                trial = self.study.ask()
                record.trial_failed(
                    self.engine, self.study, trial, None, INTERRUPTED_MSG, record.INTERRUPTED
                )
                self.outcome.reaped += 1
        for frozen in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if record.repair(self.engine, self.study, frozen):
                self.outcome.repaired += 1
                continue
            row = record.row_of(self.engine, frozen._trial_id)
            trial = optuna.Trial(self.study, frozen._trial_id)
            record.trial_failed(
                self.engine,
                self.study,
                trial,
                None if row is None else row[0],
                INTERRUPTED_MSG,
                record.INTERRUPTED,
            )
            self.outcome.reaped += 1
            if not self.grid and self._whole(frozen.params):
                self.study.enqueue_trial(frozen.params)
        record.fail_stale_rows(self.engine, self.study_id, INTERRUPTED_MSG)

    def _reap_orphans(self) -> None:
        """FAIL the RUNNING Optuna trials without a row of ours (an ask that committed while
        its answer was lost in an outage, then asked again)."""
        mine = {launch.trial._trial_id for launch in self.inflight.values()}
        for frozen in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if (
                frozen._trial_id not in mine
                and record.row_of(self.engine, frozen._trial_id) is None
            ):
                trial = optuna.Trial(self.study, frozen._trial_id)
                record.trial_failed(
                    self.engine, self.study, trial, None, INTERRUPTED_MSG, record.INTERRUPTED
                )

    def _whole(self, params: dict[str, Any]) -> bool:
        model = params.get("model")
        return model in self.spec.models and set(self.spec.axes_for(model)) <= set(params)

    def _plan(self) -> int:
        """Fill the queue of what is left; returns how many planned trials are finished."""
        self.done = record.done_configs(self.engine, self.study_id)
        if self.grid:  # growing: configurations short of spec.seeds get their missing seeds
            self.have = plan.seeds_done(self.engine, self.study_id)
            self.pending = deque(plan.remaining_points(self.spec, self.have))  # models interleaved
            return len(grid_points(self.spec)) - len(self.pending)
        finished = len(self.done)
        self.budget = max(0, self.outcome.planned - finished)
        return min(finished, self.outcome.planned)

    def _loop(self) -> None:
        handlers = self._install_signals()
        try:
            while True:
                if not self.stopping:
                    self._fill()
                if not self.inflight:
                    break
                ready, _ = ray.wait(list(self.inflight), num_returns=1, timeout=0.5)
                assert self.lease is not None
                # LeaseLostError: another driver took over; stop and write nothing more
                self.db("renewing the lease", self.lease.beat)
                for ref in ready:
                    self._collect(ref)
                if self.stopping:
                    self._interrupt_all()
        finally:
            for sig, h in handlers.items():
                signal.signal(sig, h)

    def _install_signals(self) -> dict[int, Any]:
        def on_signal(signum: int, _frame: Any) -> None:
            if self.stopping:
                raise KeyboardInterrupt
            self.stopping = True
            self.progress.note(
                f"stopping: cancelling {len(self.inflight)} running trials (they run again on "
                "the next launch); press Ctrl-C again to quit at once"
            )

        handlers: dict[int, Any] = {}
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                handlers[sig] = signal.signal(sig, on_signal)
        except ValueError:  # not the main thread: no signal handling
            pass
        return handlers

    # -- ask and submit ----------------------------------------------------------------------
    def _fill(self) -> None:
        assert self.cap is not None
        repeats = 0
        while len(self.inflight) < self.cap and (self.pending if self.grid else self.budget > 0):
            trial, params = self._ask()
            config = config_for(self.spec, params)
            key = config.key()
            if not self.grid and (key in self.done or key in self._running_keys()):
                self._duplicate(trial, key)
                repeats += 1
                if repeats >= MAX_DUPLICATES:
                    self.progress.note(
                        f"the sampler proposed {repeats} settled configurations in a row; "
                        "counting the search space as exhausted"
                    )
                    self.budget = 0
                if repeats % 20 == 0 and self.inflight:
                    return  # let a running trial finish first (its result guides the sampler)
                continue
            if self.grid:  # a grown study: only the replicates this configuration lacks
                config = plan.top_up(config, self.have.get(key, 0))
            self.budget -= 0 if self.grid else 1
            row_id = self._started(trial, params, config)
            self._submit(_Launch(trial, row_id, params, config))
            self.progress.started()

    def _started(self, trial: optuna.Trial, params: dict[str, Any], config: TrialConfig) -> int:
        def write() -> int:
            return record.trial_started(self.engine, self.study_id, trial, params, config)

        return self.db("recording a started trial", write)

    def _running_keys(self) -> set[str]:
        return {launch.config.key() for launch in self.inflight.values()}

    def _duplicate(self, trial: optuna.Trial, key: str) -> None:
        of = self.done.get(key)
        running = next((la for la in self.inflight.values() if la.config.key() == key), None)
        number = of["number"] if of else (running.trial.number if running else None)
        summary = of if of and of["state"] in ("COMPLETE", "PRUNED") else None
        self.db("telling a repeated proposal",
                lambda: record.tell_duplicate(self.study, trial, summary, number))  # fmt: skip
        self.outcome.duplicates += 1

    def _ask(self) -> tuple[optuna.Trial, dict[str, Any]]:
        if self.grid:
            point = self.pending.popleft()
            self.db("queueing a grid point", lambda: self._enqueue_once(point))
            # pops exactly this point: we are the only asker (a retry re-queues it if an ask
            # committed before its answer was lost; the orphan is swept at the end)
            trial = self.db(
                "asking for a trial", self.study.ask, again=lambda: self._ask_again(point)
            )
            params = self._suggest(trial, self.choices)
            if params != point:
                raise RuntimeError(f"trial {trial.number} got {params}, expected {point}")
            return trial, params
        trial = self.db("asking for a trial", self.study.ask)
        return trial, self._suggest(trial)

    def _suggest(
        self, trial: optuna.Trial, choices: dict[str, list[Any]] | None = None
    ) -> dict[str, Any]:
        """The trial's parameters; each ``suggest_*`` writes one to storage, so this is a
        database operation too. A retry first re-reads the trial, so a parameter whose write
        committed before its answer was lost is read back, not written twice."""

        def again() -> dict[str, Any]:
            trial._cached_frozen_trial = self.study._storage.get_trial(trial._trial_id)
            return suggest(trial, self.spec, choices)

        return self.db(
            "storing a trial's parameters", lambda: suggest(trial, self.spec, choices), again=again
        )

    def _ask_again(self, point: dict[str, Any]) -> optuna.Trial:
        self._enqueue_once(point)
        return self.study.ask()

    def _enqueue_once(self, point: dict[str, Any]) -> None:
        """Enqueue the point unless a waiting trial holds it already (an earlier try)."""
        waiting = self.study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        if not any(t.params == point or t.system_attrs.get("fixed_params") == point
                   for t in waiting):  # fmt: skip
            self.study.enqueue_trial(point)

    def _submit(self, launch: _Launch) -> None:
        config, p = launch.config, self.spec.pruning
        if p is not None and launch.first is None:
            config = dataclasses.replace(config, seeds=p.stage_seeds)
        elif p is not None:
            config = dataclasses.replace(
                config, seeds=config.seeds - p.stage_seeds, replicate_offset=p.stage_seeds
            )
        self.inflight[self.remote.remote(config.to_dict())] = launch

    # -- results -----------------------------------------------------------------------------
    def _collect(self, ref: ray.ObjectRef) -> None:
        launch = self.inflight.pop(ref)
        try:
            result = TrialResult.from_dict(ray.get(ref))
        except ray.exceptions.RayTaskError as e:  # the task raised, after Ray's retries
            self._fail(launch, str(e)[-8000:])
            return
        except ray.exceptions.RayError as e:  # worker died after retries, object lost, ...
            self._fail(launch, f"{type(e).__name__}: {e}"[-8000:])
            return
        if self.spec.pruning is not None and launch.first is None:
            launch.trial.report(result.success_rate, step=result.n_seeds)
            if launch.trial.should_prune():
                self._finish(launch, result, pruned=True)
                return
            launch.first = result
            self._submit(launch)
            return
        if launch.first is not None:
            a = launch.first
            result = TrialResult(
                config=launch.config,
                seeds=a.seeds + result.seeds,
                weights=a.weights,
                backend=a.backend,
                wall_s=a.wall_s + result.wall_s,
            )
        self._finish(launch, result)

    def _describe(self, launch: _Launch) -> str:
        shown = " ".join(f"{k}={v}" for k, v in launch.params.items() if k in self.swept)
        return f"trial {launch.trial.number} {launch.params['model']} {shown}".rstrip()

    def _finish(self, launch: _Launch, result: TrialResult, pruned: bool = False) -> None:
        entry = self._entry(launch, result, pruned)
        self.held.append(entry)  # until written: journaled if the database stays away
        self.db("recording a finished trial", lambda: record.trial_finished(
            self.engine, self.study, launch.trial, launch.row_id, result, pruned))  # fmt: skip
        self.held.remove(entry)
        self.done[launch.config.key()] = {"number": launch.trial.number,
                                          "state": "PRUNED" if pruned else "COMPLETE",
                                          **result.summary()}  # fmt: skip
        if pruned:
            self.outcome.pruned += 1
        else:
            self.outcome.completed += 1
        tag = " (pruned)" if pruned else ""
        self.progress.done(
            f"{self._describe(launch)}: {result.n_solved}/{result.n_seeds} solved{tag} "
            f"({result.wall_s:.1f} s)",
            n_solved=result.n_solved,
            n_seeds=result.n_seeds,
        )

    def _fail(self, launch: _Launch, error: str) -> None:
        self.db("recording a failed trial", lambda: record.trial_failed(
            self.engine, self.study, launch.trial, launch.row_id, error))  # fmt: skip
        self.done[launch.config.key()] = {"number": launch.trial.number, "state": "FAIL"}
        self.outcome.failed += 1
        last = error.strip().splitlines()[-1] if error.strip() else "?"
        self.outcome.errors.append(f"{self._describe(launch)}: {last}")
        self.progress.done(f"{self._describe(launch)}: FAILED: {last}", failed=True)

    def _interrupt_all(self, write: bool = True) -> None:
        """Cancel every running task and mark its trial interrupted (runs again next time);
        ``write=False`` (the lease is lost) leaves the marking to the driver that holds it."""
        for ref, launch in list(self.inflight.items()):
            with contextlib.suppress(Exception):  # already finished, or its worker is gone
                ray.cancel(ref, force=True)
            if not write:
                continue
            try:
                record.trial_failed(
                    self.engine, self.study, launch.trial, launch.row_id, INTERRUPTED_MSG,
                    record.INTERRUPTED,
                )  # fmt: skip
                if not self.grid:
                    self.study.enqueue_trial(launch.params)
            except Exception:  # best effort: the next run's reaper finishes the job
                continue
            self.outcome.interrupted += 1
            if hasattr(self, "progress"):
                self.progress.stopped()
        self.inflight.clear()
