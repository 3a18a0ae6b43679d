"""``study-launch SPEC``: validate a spec and its arguments, then run (or continue) the study.

    study-launch studies/demo.toml                                   # local Ray, SQLite
    study-launch studies/demo.toml --dry-run                         # sizes only, runs nothing
    study-launch SPEC --storage postgresql+psycopg://user@db:5432/carousel --ray-address head:6379

Defaults: storage ``$CAROUSEL_STORAGE`` or ``sqlite:///carousel.db``; Ray ``$RAY_ADDRESS`` or a
local instance with one worker per CPU. Re-running the same spec continues its study.

Exit codes: 0 the study ran to its end; 2 an invalid spec or argument (one line on stderr naming
the file or option, the field and the problem; nothing was written anywhere); 130 stopped by
Ctrl-C / SIGTERM (re-run to continue); 1 an unexpected error.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import optuna

from study.spec import Spec, SpecError, load_spec, parse_spec
from study.storage import DEFAULT_URL, StorageError, check_reachable, make_engine, parse_url

PROG = "study-launch"


class _UsageError(Exception):
    pass


class _ArgParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, instead of usage + message
        raise _UsageError(f"{message} (see {PROG} --help)")


def build_parser() -> argparse.ArgumentParser:
    p = _ArgParser(prog=PROG, description="Run a carousel study: Optuna drives Ray workers.")
    p.add_argument("spec", metavar="SPEC", help="study spec (TOML), e.g. studies/demo.toml")
    p.add_argument(
        "--storage",
        default=os.environ.get("CAROUSEL_STORAGE", DEFAULT_URL),
        help="database URL (default: $CAROUSEL_STORAGE or %(default)s)",
    )
    p.add_argument(
        "--ray-address",
        default=os.environ.get("RAY_ADDRESS"),
        help="join this Ray cluster (default: $RAY_ADDRESS, else start Ray locally)",
    )
    p.add_argument("--resume", action="store_true", help="continue a stored study (must exist)")
    p.add_argument("--dry-run", action="store_true", help="print the study's size; run nothing")
    p.add_argument("--no-probe", action="store_true", help="dry run without the timing probe")
    p.add_argument(
        "--max-in-flight", type=int, default=None, metavar="N",
        help="trials running at once (default: the cluster's CPUs)",
    )  # fmt: skip
    p.add_argument(
        "--max-retries", type=int, default=2, metavar="N",
        help="Ray retries of a failed task before its trial is FAIL (default: 2)",
    )  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="plain lines instead of a bar")
    return p


def dry_run_text(spec: Spec) -> str:
    """The study's size: trials, seeds and an upper bound on training sequences."""
    from study.space import n_grid_points, n_planned

    trials = n_planned(spec)
    lines = [f"study {spec.name}: task {spec.task}, sampler {spec.sampler}"]
    if spec.sampler == "grid":
        per = ", ".join(f"{m}: {n_grid_points(_only(spec, m))}" for m in spec.models)
        lines.append(f"  trials: {trials} grid point{'s' if trials != 1 else ''} ({per})")
    else:
        lines.append(f"  trials: {trials} (n_trials)")
    seeds = trials * spec.seeds
    lines.append(f"  seeds: {spec.seeds} per trial, {seeds} in all")
    lines.append(
        f"  sequences: at most {seeds * spec.max_sequences:,} "
        f"({spec.max_sequences:,} per seed; a solved seed stops early)"
    )
    return "\n".join(lines)


def _only(spec: Spec, model: str) -> Spec:
    import dataclasses

    return dataclasses.replace(spec, models=(model,))


def _check_stored(spec: Spec, url: str, resume: bool) -> bool:
    """Raise SpecError if a stored study of this name has a different spec; True if one exists."""
    u = parse_url(url)
    if u.get_backend_name() == "sqlite" and not Path(u.database or "").exists():
        stored = None
    else:
        from study.record import stored_spec_toml

        engine = make_engine(url, read_only=True)
        try:
            stored = stored_spec_toml(engine, spec.name)
        finally:
            engine.dispose()
    if stored is None:
        if resume:
            raise SpecError("--resume", "name", f"no study {spec.name!r} in this storage to resume")
        return False
    from study.plan import refused_changes  # a study may grow (seeds, n_trials)

    try:
        old: Spec | None = parse_spec(stored, "<stored spec>")
    except SpecError:
        old = None
    changed = refused_changes(old, spec)
    if changed:
        raise SpecError(
            spec.file,
            changed[0],
            f"study {spec.name!r} already exists with a different {', '.join(changed)}; "
            "a study can only grow (more seeds for a grid, more n_trials for a search): "
            "give the changed spec a new name",
        )
    return True


def _check_ray_address(address: str | None) -> None:
    """Fail fast (Ray itself retries an unreachable address for minutes)."""
    if not address or address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise SpecError("--ray-address", "address", f"expected HOST:PORT, got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as e:
        raise SpecError("--ray-address", "address", f"cannot reach {hostport}: {e}") from None


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except _UsageError as e:
        return _usage(str(e))
    try:
        spec = load_spec(args.spec)
        for opt in ("max_in_flight", "max_retries"):
            v = getattr(args, opt)
            if v is not None and v < (1 if opt == "max_in_flight" else 0):
                raise SpecError("--" + opt.replace("_", "-"), "value", f"out of range: {v}")
        if args.dry_run:
            from study.estimate import budget_warnings, estimate_text

            print(dry_run_text(spec))
            if not args.no_probe:
                print(estimate_text(spec, args.max_in_flight or os.cpu_count() or 1), flush=True)
            for line in budget_warnings(spec):
                print(line)
            return 0
        url = args.storage
        try:
            check_reachable(url)
        except StorageError as e:
            raise SpecError("--storage", "url", str(e)) from None
        existed = _check_stored(spec, parse_url(url).render_as_string(False), args.resume)
        if existed and _nothing_to_do(spec, parse_url(url).render_as_string(False)):
            return 0  # a finished study: said so before starting Ray
        _check_ray_address(args.ray_address)
    except SpecError as e:
        return _usage(str(e))
    return _run(spec, parse_url(url).render_as_string(False), args, existed)


def _nothing_to_do(spec: Spec, url: str) -> bool:
    """Print "complete, nothing to do" and the success table if the stored study has nothing
    left under ``spec`` (`study.plan.nothing_to_do`); False when there is work for the driver."""
    from study.plan import nothing_to_do
    from study.queries import format_table, success_table

    engine = make_engine(url, read_only=True)
    try:
        message = nothing_to_do(spec, engine)
        if message is not None:
            print(message)
            print(format_table(*success_table(engine, spec.name)))
    finally:
        engine.dispose()
    return message is not None


def _usage(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def _run(spec: Spec, url: str, args: argparse.Namespace, existed: bool) -> int:
    import ray

    from study.driver import Driver, init_ray
    from study.queries import format_table, success_table
    from study.ray_quiet import quiet_ray
    from study.storage import safe_url

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    t0 = time.monotonic()
    quiet_ray()
    owns_ray = init_ray(args.ray_address)
    quiet_ray()  # Ray's modules imported by init register their exit handlers too
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        where = args.ray_address or "local"
        print(
            f"{'continuing' if existed else 'starting'} study {spec.name!r} "
            f"({spec.sampler}, {spec.seeds} seeds per trial) on {safe_url(url)}, "
            f"Ray {where} with {cpus} CPUs",
            flush=True,
        )
        driver = Driver(
            spec,
            url,
            ray_address=args.ray_address,
            max_in_flight=args.max_in_flight,
            max_retries=args.max_retries,
            live=False if args.no_progress else None,
        )
        try:
            out = driver.run()
        except KeyboardInterrupt:
            print("stopped at once; the next launch of this spec cleans up and continues")
            return 130
    finally:
        if owns_ray:
            ray.shutdown()
    minutes, seconds = divmod(time.monotonic() - t0, 60)
    recovered = out.reaped + out.repaired
    print(
        f"{out.status}: {out.completed} completed, {out.pruned} pruned, {out.failed} failed, "
        f"{out.interrupted} interrupted this run"
        + (f"; recovered {recovered} trials of an earlier run" if recovered else "")
        + f" ({int(minutes)}m{seconds:04.1f}s)"
    )
    for line in out.errors[:10]:
        print(f"  failed: {line}")
    engine = make_engine(url, read_only=True)
    try:
        print(format_table(*success_table(engine, spec.name)))
    finally:
        engine.dispose()
    if out.status == "stopped":
        print(f"stopped; run `{PROG} {args.spec}` again to continue")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
