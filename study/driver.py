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
* Pruning (optional): a trial first trains ``stage_seeds`` seeds and reports their success rate;
  if the pruner keeps it, the remaining seeds run as a second task. Seeds derive from (spec seed,
  configuration, replicate), so the staged seeds are the same seeds an unstaged trial trains.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import signal
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna
import ray
from optuna.trial import TrialState

from study import plan, record
from study.progress import Progress
from study.space import config_for, grid_points, make_pruner, make_sampler, n_planned, suggest
from study.spec import Choice, Spec
from study.storage import make_engine, optuna_storage
from workers.config import TrialConfig, TrialResult
from workers.remote import run_trial

THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}
"""One numeric thread per worker: N single-thread workers on N cores scale linearly."""
INTERRUPTED_MSG = "interrupted: the driver stopped while this trial ran; it runs again on resume"


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


def init_ray(address: str | None) -> bool:
    """Start or join Ray unless this process already has; True if this call connected."""
    if ray.is_initialized():
        return False
    ray.init(
        address=address,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
        runtime_env={"env_vars": THREAD_ENV},
    )
    return True


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
    ) -> None:
        self.spec, self.url = spec, storage
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
        try:
            record.ensure_schema(self.engine)
            self.study = optuna.create_study(
                study_name=self.spec.name,
                storage=optuna_storage(self.url),
                direction="maximize",
                sampler=make_sampler(self.spec),
                pruner=make_pruner(self.spec),
                load_if_exists=True,
            )
            if "carousel" not in self.study.user_attrs:
                info = {"task": self.spec.task, "seeds": self.spec.seeds}
                self.study.set_user_attr("carousel", info)
            self.study_id = record.begin_study(self.engine, self.spec)
            self._recover()
            finished = self._plan()
            self.progress = Progress(self.spec.name, self.outcome.planned, finished, self.live)
            try:
                self._loop()
            finally:
                self.progress.close()
            self.outcome.status = "stopped" if self.stopping else "done"
            record.set_study_status(self.engine, self.study_id, self.outcome.status)
            return self.outcome
        except BaseException as e:
            self._interrupt_all()
            if hasattr(self, "study_id"):
                status = "stopped" if isinstance(e, KeyboardInterrupt) else "failed"
                with contextlib.suppress(Exception):  # keep the original error
                    record.set_study_status(self.engine, self.study_id, status)
            raise
        finally:
            self.engine.dispose()
            if owns_ray:
                ray.shutdown()

    def _recover(self) -> None:
        """Clean up after a driver that was killed (see the module docstring)."""
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

    def _whole(self, params: dict[str, Any]) -> bool:
        model = params.get("model")
        return model in self.spec.models and set(self.spec.axes_for(model)) <= set(params)

    def _plan(self) -> int:
        """Fill the queue of what is left; returns how many planned trials are finished."""
        if self.grid:  # growing: configurations short of spec.seeds get their missing seeds
            self.have = plan.seeds_done(self.engine, self.study_id)
            self.pending = deque(plan.remaining_points(self.spec, self.have))  # models interleaved
            return len(grid_points(self.spec)) - len(self.pending)
        finished = sum(
            t.state in (TrialState.COMPLETE, TrialState.PRUNED)
            or (t.state == TrialState.FAIL and t.user_attrs.get("fail_reason") == record.ERROR)
            for t in self.study.get_trials(deepcopy=False)
        )
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
        while len(self.inflight) < self.cap and (self.pending if self.grid else self.budget > 0):
            trial, params = self._ask()
            config = config_for(self.spec, params)
            if self.grid:  # a grown study: only the replicates this configuration lacks
                config = plan.top_up(config, self.have.get(config.key(), 0))
            row_id = record.trial_started(self.engine, self.study_id, trial, params, config)
            self._submit(_Launch(trial, row_id, params, config))
            self.progress.started()

    def _ask(self) -> tuple[optuna.Trial, dict[str, Any]]:
        if self.grid:
            point = self.pending.popleft()
            self.study.enqueue_trial(point)
            trial = self.study.ask()  # pops exactly this point: we are the only asker
            params = suggest(trial, self.spec)
            if params != point:
                raise RuntimeError(f"trial {trial.number} got {params}, expected {point}")
            return trial, params
        self.budget -= 1
        trial = self.study.ask()
        return trial, suggest(trial, self.spec)

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
        record.trial_finished(self.engine, self.study, launch.trial, launch.row_id, result, pruned)
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
        record.trial_failed(self.engine, self.study, launch.trial, launch.row_id, error)
        self.outcome.failed += 1
        last = error.strip().splitlines()[-1] if error.strip() else "?"
        self.outcome.errors.append(f"{self._describe(launch)}: {last}")
        self.progress.done(f"{self._describe(launch)}: FAILED: {last}", failed=True)

    def _interrupt_all(self) -> None:
        """Cancel every running task and mark its trial interrupted (runs again next time)."""
        for ref, launch in list(self.inflight.items()):
            with contextlib.suppress(Exception):  # already finished, or its worker is gone
                ray.cancel(ref, force=True)
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


def run_study(spec: Spec, storage: str, **kwargs: Any) -> Outcome:
    """Run (or continue) a study; keyword arguments as for :class:`Driver`."""
    return Driver(spec, storage, **kwargs).run()
