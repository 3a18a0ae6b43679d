"""The compose stack for real (``make compose-test``): build, up, a study across two worker
containers with one killed mid-study, the launcher killed and started again, teardown.

Needs a Docker engine; skipped with the reason when none answers (CI, the development machine
without ``dockerd``), and deselected from ``make test`` (marker ``compose``). Base images: the
official ones where a registry answers, else stand-ins built from Debian (deploy/base-images.sh).
The image installs from ./wheelhouse (OFFLINE=1) when it holds wheels (``make wheelhouse``).
Everything it publishes is bound to 127.0.0.1; the project name is unique, ``down -v`` at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from stack_helpers import (
    ROOT,
    assert_grid_complete_once,
    completed_rows,
    free_port,
    grid_spec,
    wait_for_states,
)

pytestmark = [pytest.mark.compose, pytest.mark.slow, pytest.mark.timeout(2400)]


def _engine_error() -> str | None:
    if shutil.which("docker") is None or shutil.which("docker-compose") is None:
        return "docker / docker-compose not installed (apt-get install docker.io docker-compose)"
    try:
        r = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "no Docker engine answers (docker info timed out)"
    if r.returncode != 0:
        return "no Docker engine answers (start dockerd): " + r.stderr.strip().splitlines()[-1]
    return None


class Compose:
    def __init__(self, env: dict[str, str], files: list[Path]) -> None:
        self.env, self.files = env, files

    def __call__(self, *args: str, timeout: float = 600, check: bool = True) -> str:
        cmd = ["docker-compose", *(a for f in self.files for a in ("-f", str(f))), *args]
        r = subprocess.run(
            cmd, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and r.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
        return r.stdout

    def container(self, service: str, index: int = 1) -> str:
        return self("ps", "-q", service).split()[index - 1]

    def exit_code(self, service: str, timeout: float) -> int:
        cid = self("ps", "-a", "-q", service).split()[0]
        r = subprocess.run(["docker", "wait", cid], capture_output=True, text=True, timeout=timeout)
        return int(r.stdout.strip())


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Compose, dict[str, str]]]:
    if (why := _engine_error()) is not None:
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("compose")
    t0 = time.monotonic()
    images = subprocess.run(
        ["bash", str(ROOT / "deploy/base-images.sh")],
        capture_output=True, text=True, timeout=900, check=True,
    ).stdout  # fmt: skip
    env = dict(os.environ)
    env.update(line.split("=", 1) for line in images.split())
    ports = {"DASHBOARD_PORT": free_port(), "RAY_DASHBOARD_PORT": free_port()}
    ports["POSTGRES_PORT"] = free_port()
    env.update({k: str(v) for k, v in ports.items()})
    env.update(
        COMPOSE_PROJECT_NAME=f"carouselct{os.getpid()}",
        POSTGRES_PASSWORD=secrets.token_urlsafe(16),
        DASHBOARD_DB_PASSWORD=secrets.token_urlsafe(16),
        OFFLINE="1" if any((ROOT / "wheelhouse").glob("torch-*.whl")) else "0",
        RAY_WORKER_CPUS="1",
        STUDY_SPEC="/specs/stack.toml",
        STUDY_ARGS="--max-retries 3",
    )
    # the test's specs reach the launcher through a mount; the rest is the shipped files
    override = tmp / "specs.yml"
    override.write_text(f"services:\n  launcher:\n    volumes:\n      - {tmp}:/specs:ro\n")
    grid_spec(tmp, "stack", lrs="[0.5, 1.0, 2.0, 4.0, 8.0, 16.0]", max_sequences=30_000)
    compose = Compose(
        env, [ROOT / "docker-compose.yml", ROOT / "docker-compose.expose.yml", override]
    )
    compose("down", "-v", "--remove-orphans", check=False)
    compose("build", "ray-head", timeout=1800)
    env["BUILD_S"] = f"{time.monotonic() - t0:.0f}"
    try:
        yield compose, env
    finally:
        logs = compose("logs", "--no-color", "--tail", "40", check=False, timeout=120)
        (tmp / "compose.log").write_text(logs)
        compose("down", "-v", "--remove-orphans", check=False, timeout=300)
        print(f"compose test: {time.monotonic() - t0:.0f} s in all ({env['BUILD_S']} s images)")


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.read().decode(errors="replace")


def _wait_http(url: str, timeout: float = 180) -> tuple[int, str]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _get(url)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def test_compose_up_runs_the_study_across_workers_and_survives_a_killed_worker(stack) -> None:
    compose, env = stack
    owner = (
        f"postgresql+psycopg://carousel:{env['POSTGRES_PASSWORD']}"
        f"@127.0.0.1:{env['POSTGRES_PORT']}/carousel"
    )
    t0 = time.monotonic()
    compose("up", "-d", timeout=600)  # the whole stack, launcher included: it starts the study
    launcher = compose.container("launcher")

    def alive() -> bool:
        out = subprocess.run(
            ["docker", "inspect", "-f", "{{.State.Running}}", launcher],
            capture_output=True, text=True,
        ).stdout  # fmt: skip
        return out.strip() == "true"

    wait_for_states(owner, "stack", 1, 2, alive=alive, timeout=400)
    victim = compose.container("ray-worker", 1)
    subprocess.run(["docker", "kill", victim], check=True, capture_output=True, timeout=60)
    assert compose.exit_code("launcher", timeout=600) == 0, compose("logs", "launcher")
    study_s = time.monotonic() - t0
    assert_grid_complete_once(owner, Path(compose.files[-1]).parent / "stack.toml")
    logs = compose("logs", "--no-color", "launcher")
    assert "Ray auto with 2 CPUs" in logs  # two 1-CPU workers; the head and launcher add none

    # the dashboard (its health and a page), the Ray dashboard, both on 127.0.0.1 only
    status, _ = _wait_http(f"http://127.0.0.1:{env['DASHBOARD_PORT']}/_stcore/health")
    assert status == 200
    status, page = _get(f"http://127.0.0.1:{env['DASHBOARD_PORT']}/")
    assert status == 200 and "<title>" in page.lower()
    status, body = _wait_http(f"http://127.0.0.1:{env['RAY_DASHBOARD_PORT']}/api/version")
    assert status == 200 and json.loads(body)["ray_version"]

    # the dashboard's role reads the study and can write nothing
    with psycopg.connect(
        host="127.0.0.1", port=int(env["POSTGRES_PORT"]), dbname="carousel",
        user="carousel_reader", password=env["DASHBOARD_DB_PASSWORD"], autocommit=True,
    ) as conn:  # fmt: skip
        assert conn.execute("SELECT count(*) FROM carousel_trials").fetchone()[0] >= 18
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("DELETE FROM carousel_trials")
        conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM carousel_trials")
    print(f"compose study with a killed worker: {study_s:.0f} s")


def test_launcher_killed_mid_study_and_started_again_resumes(stack) -> None:
    compose, env = stack
    owner = (
        f"postgresql+psycopg://carousel:{env['POSTGRES_PASSWORD']}"
        f"@127.0.0.1:{env['POSTGRES_PORT']}/carousel"
    )
    spec = grid_spec(
        Path(compose.files[-1]).parent, "resumed", lrs="[0.5, 1.0, 2.0, 4.0, 8.0, 16.0]",
        max_sequences=30_000,
    )  # fmt: skip
    env["STUDY_SPEC"] = "/specs/resumed.toml"
    compose("up", "-d", "--scale", "ray-worker=2")  # the killed worker back, the new spec
    launcher = compose.container("launcher")

    def alive() -> bool:
        out = subprocess.run(
            ["docker", "inspect", "-f", "{{.State.Running}}", launcher],
            capture_output=True, text=True,
        ).stdout  # fmt: skip
        return out.strip() == "true"

    wait_for_states(owner, "resumed", 2, 1, alive=alive, timeout=400)
    subprocess.run(["docker", "kill", launcher], check=True, capture_output=True, timeout=60)
    done = completed_rows(owner, "resumed")
    compose("up", "-d", "--scale", "ray-worker=2")  # the launcher started again: resumes
    assert compose.exit_code("launcher", timeout=600) == 0, compose("logs", "launcher")
    assert "continuing study 'resumed'" in compose("logs", "--no-color", "launcher")
    assert_grid_complete_once(owner, spec)
    after = completed_rows(owner, "resumed")
    assert {k: after[k] for k in done} == done  # nothing completed before the kill was redone
