"""``study-launch SPEC``: validate a spec and its arguments, then run (or continue) the study.

    study-launch studies/demo.toml                                   # local Ray, SQLite
    study-launch studies/demo.toml --dry-run                         # sizes only, runs nothing
    study-launch SPEC --storage postgresql+psycopg://user@db:5432/carousel --ray-address head:6379

Defaults: storage ``$CAROUSEL_STORAGE`` or ``sqlite:///carousel.db``; Ray ``$RAY_ADDRESS`` or a
local instance with one worker per CPU. Re-running the same spec continues its study.

Exit codes: 0 the study ran to its end; 2 an invalid spec or argument (one line on stderr naming
the file or option, the field and the problem; nothing was written anywhere), or another driver
runs the study now; 130 stopped by Ctrl-C / SIGTERM at any moment (re-run to continue); 1 the
database stayed unreachable past ``--db-retry-s``, Ray could not start (tried twice), or an
unexpected error: one line, and a state that the next launch resumes.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, NoReturn

import optuna

from study.command import PROG, continue_command
from study.spec import Spec, SpecError
from study.specfile import load_spec, parse_spec
from study.storage import (
    StorageError,
    check_reachable,
    configured_url,
    make_engine,
    parse_url,
)

RAY_PROBE_S = 5.0
"""How long a --ray-address may take to answer as Ray (gRPC over HTTP/2) before exit 2."""


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
        default=configured_url(),
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
    p.add_argument(
        "--max-trial-memory", type=float, default=None, metavar="GIB",
        help="refuse a spec whose largest trial needs more (default: half this machine's "
        "memory, at most 16)",
    )  # fmt: skip
    p.add_argument(
        "--db-retry-s", type=float, default=None, metavar="S",
        help="ride out database outages this long before stopping (default: 120)",
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
        # parsed as if from the spec's own file: relative data paths (csv task) resolve the same
        old: Spec | None = parse_spec(stored, spec.file)
    except SpecError:
        old = None
    changed = refused_changes(old, spec)
    if changed:
        raise SpecError(
            spec.file,
            changed[0],
            f"study {spec.name!r} already exists with a different {', '.join(changed)}; "
            "a study can only grow (more seeds, values or models for a grid, more n_trials "
            "for a search): "
            "give the changed spec a new name",
        )
    return True


def split_hostport(address: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or ``ray://host:port`` -> (host, port); SpecError if not."""
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    if bracketed:
        host = host[1:-1]
    elif ":" in host:
        raise SpecError(
            "--ray-address", "address", f"write an IPv6 address in brackets: [{hostport}]:PORT"
        )
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SpecError("--ray-address", "address", f"expected HOST:PORT, got {address!r}")
    return host, int(port)


def _check_ray_address(address: str | None) -> None:
    """Fail fast: the address must accept a connection and answer as Ray's GCS does (gRPC,
    HTTP/2) within RAY_PROBE_S; Ray itself waits minutes on a port that is not Ray."""
    if not address or address in ("auto", "local"):
        return
    host, port = split_hostport(address)
    try:
        sock = socket.create_connection((host, port), timeout=RAY_PROBE_S)
    except OSError as e:
        raise SpecError("--ray-address", "address", f"cannot reach {host}:{port}: {e}") from None
    head = b""
    with sock, suppress(OSError):  # a timeout or reset: not Ray
        sock.settimeout(RAY_PROBE_S)
        # the HTTP/2 client preface and an empty SETTINGS frame; a gRPC server answers with its
        # own SETTINGS frame (type 0x4) first
        sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))
        while len(head) < 9:
            chunk = sock.recv(9 - len(head))
            if not chunk:
                break
            head += chunk
    if len(head) < 9 or head[3] != 4:
        raise SpecError(
            "--ray-address",
            "address",
            f"{host}:{port} accepts connections but does not answer as a Ray head (GCS) within "
            f"{RAY_PROBE_S:.0f} s",
        )


@contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM acts like Ctrl-C from the first moment (exit 130, resumable), not 143."""

    def on_term(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    with _signals_interrupt():
        try:
            return _main(argv)
        except KeyboardInterrupt:
            print(f"stopped; run `{continue_command(argv)}` again to continue", file=sys.stderr)
            return 130


def _main(argv: list[str]) -> int:
    try:
        args = build_parser().parse_args(argv)
    except _UsageError as e:
        return _usage(str(e))
    try:
        spec = load_spec(args.spec)
        for opt, low in (("max_in_flight", 1), ("max_retries", 0), ("db_retry_s", 0)):
            v = getattr(args, opt)
            if v is not None and v < low:
                raise SpecError("--" + opt.replace("_", "-"), "value", f"out of range: {v}")
        if args.max_trial_memory is not None and not args.max_trial_memory > 0:
            raise SpecError(
                "--max-trial-memory", "value", f"must be > 0, got {args.max_trial_memory}"
            )
        from study.bounds import check_memory, default_limit

        limit = (
            default_limit() if args.max_trial_memory is None else int(args.max_trial_memory * 2**30)
        )
        largest = check_memory(spec, limit)
        if args.dry_run:
            from study.estimate import budget_warnings, estimate_text

            print(dry_run_text(spec))
            print(f"  memory: the largest trial needs {largest.describe()}")
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
    return _run(spec, parse_url(url).render_as_string(False), args, existed, argv)


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


def _fatal(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 1


def _run(spec: Spec, url: str, args: argparse.Namespace, existed: bool, argv: list[str]) -> int:
    import ray

    from study.driver import Driver, RayStartError, init_ray
    from study.lease import LeaseHeldError, LeaseLostError
    from study.queries import format_table, success_table
    from study.ray_quiet import quiet_ray
    from study.retry import BOUND_S, StorageOutageError
    from study.storage import safe_url

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    t0 = time.monotonic()
    again = continue_command(argv)
    quiet_ray()
    try:
        owns_ray = init_ray(args.ray_address)
    except RayStartError as e:
        return _fatal(str(e))
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
            db_retry_s=BOUND_S if args.db_retry_s is None else args.db_retry_s,
        )
        try:
            out = driver.run()
        except LeaseHeldError as e:
            return _usage(str(e))
        except (StorageOutageError, LeaseLostError) as e:
            return _fatal(f"{e}; run `{again}` again to continue")
    finally:
        if owns_ray:
            ray.shutdown()
    minutes, seconds = divmod(time.monotonic() - t0, 60)
    recovered = out.reaped + out.repaired + out.journaled
    print(
        f"{out.status}: {out.completed} completed, {out.pruned} pruned, {out.failed} failed, "
        f"{out.interrupted} interrupted this run"
        + (f"; recovered {recovered} trials of an earlier run" if recovered else "")
        + (f"; {out.duplicates} repeated proposals told, not rerun" if out.duplicates else "")
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
        print(f"stopped; run `{again}` again to continue")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
