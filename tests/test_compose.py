"""docker-compose.yml: valid for Docker Compose, and every service runs a command that exists here.

There is no Docker engine on the development and CI machines, so the file is checked two ways:
Debian's ``docker-compose`` (installed by ``make sysdeps``) validates it without an engine
(``docker-compose config -q``), and the services' commands are checked against this package: the
console scripts they call are installed, their arguments parse, the spec the study service runs
exists and validates, and the storage URL they share is one our driver and dashboard accept.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKER_COMPOSE = shutil.which("docker-compose")
needs_compose = pytest.mark.skipif(
    DOCKER_COMPOSE is None, reason="docker-compose missing: run `make sysdeps` (Debian package)"
)


def _config(path: Path) -> subprocess.CompletedProcess[str]:
    assert DOCKER_COMPOSE is not None
    return subprocess.run(
        [DOCKER_COMPOSE, "-f", str(path), "config"],
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )


@needs_compose
def test_docker_compose_validates_the_file():
    r = _config(COMPOSE)
    assert r.returncode == 0, r.stderr
    services = yaml.safe_load(r.stdout)["services"]
    assert {"postgres", "ray-head", "ray-worker", "study", "dashboard"} <= set(services)


@needs_compose
def test_docker_compose_rejects_a_broken_file(tmp_path):
    """The validation can fail: a dependency on a service that does not exist."""
    raw = yaml.safe_load(COMPOSE.read_text())
    raw["services"]["dashboard"]["depends_on"] = {"no-such-db": {"condition": "service_healthy"}}
    bad = tmp_path / "docker-compose.yml"
    bad.write_text(yaml.safe_dump(raw))
    (tmp_path / "Dockerfile").write_text((ROOT / "Dockerfile").read_text())
    r = _config(bad)
    assert r.returncode != 0
    assert "no-such-db" in r.stderr


def _services() -> dict[str, dict]:
    raw = yaml.safe_load(COMPOSE.read_text())
    return raw["services"]


def _argv(service: dict) -> list[str]:
    def words(v: str | list[str] | None) -> list[str]:
        if v is None:
            return []
        return v.split() if isinstance(v, str) else list(v)

    return words(service.get("entrypoint")) + words(service.get("command"))


def _bin(name: str) -> Path:
    exe = Path(sys.executable).with_name(name)
    assert exe.exists(), f"{name} is not installed in {exe.parent}"
    return exe


def test_every_carousel_service_shares_one_postgres_url_our_code_accepts():
    from study.storage import parse_url

    services = _services()
    urls = {
        n: s["environment"]["CAROUSEL_STORAGE"]
        for n, s in services.items()
        if n != "postgres" and "environment" in s
    }
    assert set(urls) == {"ray-head", "ray-worker", "study", "dashboard"}
    assert len(set(urls.values())) == 1
    u = parse_url(next(iter(urls.values())))
    pg = services["postgres"]["environment"]
    assert u.get_backend_name() == "postgresql" and u.host == "postgres"
    assert (u.username, u.password, u.database) == (
        pg["POSTGRES_USER"],
        pg["POSTGRES_PASSWORD"],
        pg["POSTGRES_DB"],
    )


def test_the_study_service_runs_a_valid_spec_with_arguments_study_launch_accepts():
    from study.cli import build_parser
    from study.spec import load_spec

    argv = _argv(_services()["study"])
    assert argv[0] == "study-launch"
    _bin("study-launch")
    args = build_parser().parse_args(argv[1:])
    assert args.ray_address == "ray-head:6379"
    spec = load_spec(ROOT / args.spec)  # raises SpecError if the spec is missing or invalid
    assert spec.name


def test_the_dashboard_service_command_parses_and_binds_all_interfaces():
    from dashboard.serve import build_parser

    argv = _argv(_services()["dashboard"])
    assert argv[0] == "carousel-dashboard"
    _bin("carousel-dashboard")
    args = build_parser().parse_args(argv[1:])
    assert args.host == "0.0.0.0" and args.port == 8501


@pytest.mark.parametrize("name", ["ray-head", "ray-worker"])
def test_the_ray_services_run_ray_start_that_blocks(name):
    argv = _argv(_services()[name])
    assert argv[:2] == ["ray", "start"] and "--block" in argv
    _bin("ray")
    r = subprocess.run(
        [str(_bin("ray")), "start", "--help"], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0
    for flag in (a.split("=")[0] for a in argv[2:] if a.startswith("--")):
        assert flag in r.stdout, f"ray start has no option {flag}"
