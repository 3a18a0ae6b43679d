"""docker-compose.yml without an engine: valid for Docker Compose, secrets only from .env, nothing
published beyond the dashboard on loopback, and every service runs a deploy/ script whose
commands exist here.

Debian's ``docker-compose`` (installed by ``make sysdeps``) validates the files without an engine
(``docker-compose config``); the service scripts' arguments are checked against this package.
The stack itself runs in tests/deploy/ (as local processes in ``make test``, as containers in
``make compose-test``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
EXPOSE = ROOT / "docker-compose.expose.yml"
DOCKER_COMPOSE = shutil.which("docker-compose")
needs_compose = pytest.mark.skipif(
    DOCKER_COMPOSE is None, reason="docker-compose missing: run `make sysdeps` (Debian package)"
)
SERVICES = {"postgres", "ray-head", "ray-worker", "launcher", "dashboard"}


def _env_file(tmp_path: Path, **values: str) -> Path:
    """.env.example with these values set (the repository's own .env is never read)."""
    text = (ROOT / ".env.example").read_text()
    for k, v in values.items():
        text = re.sub(rf"^{k}=.*$", f"{k}={v}", text, flags=re.M)
    path = tmp_path / "test.env"
    path.write_text(text)
    return path


def _config(tmp_path: Path, *files: Path, **values: str) -> subprocess.CompletedProcess[str]:
    assert DOCKER_COMPOSE is not None
    args = [a for f in files for a in ("-f", str(f))]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES", "DASH"))}
    return subprocess.run(
        [DOCKER_COMPOSE, *args, "--env-file", str(_env_file(tmp_path, **values)), "config"],
        cwd=files[0].parent, capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


def _configured(tmp_path: Path, *files: Path) -> dict:
    r = _config(tmp_path, *files, POSTGRES_PASSWORD="pw-owner", DASHBOARD_DB_PASSWORD="pw-reader")
    assert r.returncode == 0, r.stderr
    return yaml.safe_load(r.stdout)["services"]


@needs_compose
def test_docker_compose_validates_the_file(tmp_path: Path) -> None:
    services = _configured(tmp_path, COMPOSE)
    assert set(services) == SERVICES
    assert services["ray-worker"]["scale"] == 2
    assert "profiles" not in services["launcher"]  # `docker-compose up` alone runs the study
    assert services["postgres"]["healthcheck"]["test"][-1] == "health"


@needs_compose
def test_no_password_no_stack(tmp_path: Path) -> None:
    """.env.example leaves both passwords empty: compose refuses, naming the variable."""
    r = _config(tmp_path, COMPOSE)
    assert r.returncode != 0 and "POSTGRES_PASSWORD" in r.stderr
    r = _config(tmp_path, COMPOSE, POSTGRES_PASSWORD="x")
    assert r.returncode != 0 and "DASHBOARD_DB_PASSWORD" in r.stderr


@needs_compose
def test_only_the_dashboard_is_published_and_only_on_loopback(tmp_path: Path) -> None:
    services = _configured(tmp_path, COMPOSE)
    published = {n: s["ports"] for n, s in services.items() if s.get("ports")}
    assert list(published) == ["dashboard"]
    assert [_port(p) for p in published["dashboard"]] == [("127.0.0.1", 8501)]
    # asked for: the Ray dashboard and PostgreSQL, on loopback too
    services = _configured(tmp_path, COMPOSE, EXPOSE)
    ports = {n: s["ports"] for n, s in services.items() if s.get("ports")}
    assert set(ports) == {"dashboard", "ray-head", "postgres"}
    assert _port(ports["ray-head"][0]) == ("127.0.0.1", 8265)
    assert _port(ports["postgres"][0]) == ("127.0.0.1", 5432)


def _port(p: str | dict) -> tuple[str, int]:
    """(host address, container port) of a published port, short or long syntax."""
    if isinstance(p, dict):
        return p["host_ip"], int(p["target"])
    host_ip, _, rest = p.partition(":")
    return host_ip, int(rest.rsplit(":", 1)[-1].split("/")[0])


@needs_compose
def test_docker_compose_rejects_a_broken_file(tmp_path: Path) -> None:
    """The validation can fail: a dependency on a service that does not exist."""
    raw = yaml.safe_load(COMPOSE.read_text())
    raw["services"]["dashboard"]["depends_on"] = {"no-such-db": {"condition": "service_healthy"}}
    bad = tmp_path / "docker-compose.yml"
    bad.write_text(yaml.safe_dump(raw))
    (tmp_path / "Dockerfile").write_text((ROOT / "Dockerfile").read_text())
    r = _config(tmp_path, bad, POSTGRES_PASSWORD="a", DASHBOARD_DB_PASSWORD="b")
    assert r.returncode != 0
    assert "no-such-db" in r.stderr


@needs_compose
def test_credentials_go_only_where_needed_and_never_in_a_url(tmp_path: Path) -> None:
    from study.storage import parse_url

    services = _configured(tmp_path, COMPOSE)
    env = {n: s.get("environment") or {} for n, s in services.items()}
    assert env["postgres"]["POSTGRES_PASSWORD"] == "pw-owner"
    assert env["postgres"]["DASHBOARD_DB_PASSWORD"] == "pw-reader"
    launcher = parse_url(env["launcher"]["CAROUSEL_STORAGE"])
    dashboard = parse_url(env["dashboard"]["CAROUSEL_STORAGE"])
    assert launcher.password is None and dashboard.password is None
    assert (launcher.username, env["launcher"]["PGPASSWORD"]) == ("carousel", "pw-owner")
    assert (dashboard.username, env["dashboard"]["PGPASSWORD"]) == ("carousel_reader", "pw-reader")
    assert launcher.host == dashboard.host == "postgres"
    assert launcher.database == dashboard.database == env["postgres"]["POSTGRES_DB"]
    for ray_service in ("ray-head", "ray-worker"):  # workers never touch the database
        assert not any("PASSWORD" in k or k == "CAROUSEL_STORAGE" for k in env[ray_service])


def _services() -> dict[str, dict]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def _script(service: str) -> Path:
    (cmd,) = _services()[service]["command"] if service != "postgres" else ["deploy/postgres.sh"]
    path = ROOT / cmd
    assert path.exists() and path.parent.name == "deploy", cmd
    return path


def test_every_service_runs_its_deploy_script() -> None:
    services = _services()
    assert services["postgres"]["entrypoint"] == ["/deploy/postgres.sh"]
    assert "./deploy:/deploy:ro" in services["postgres"]["volumes"]
    for name in SERVICES - {"postgres"}:
        assert _script(name).name == f"{name}.sh"


def test_the_launcher_default_spec_is_valid() -> None:
    from study.specfile import load_spec

    default = re.search(r"STUDY_SPEC:-([^}]+)}", COMPOSE.read_text())
    assert default is not None and default.group(1) == "studies/demo.toml"
    assert load_spec(ROOT / default.group(1)).name == "demo"
    assert "--ray-address auto" in _script("launcher").read_text()
    assert (Path(sys.executable).with_name("study-launch")).exists()


def test_the_dashboard_script_binds_localhost_unless_told() -> None:
    from dashboard.serve import build_parser

    text = _script("dashboard").read_text()
    assert "DASHBOARD_HOST:-127.0.0.1" in text
    assert build_parser().parse_args([]).host == "127.0.0.1"
    assert _services()["dashboard"]["environment"]["DASHBOARD_HOST"] == "0.0.0.0"  # in its box


@pytest.mark.parametrize("name", ["ray-head", "ray-worker", "launcher"])
def test_the_ray_scripts_use_options_ray_start_has(name: str) -> None:
    ray = Path(sys.executable).with_name("ray")
    assert ray.exists()
    r = subprocess.run([str(ray), "start", "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0
    text = _script(name).read_text()
    command: list[str] = []  # the `ray start` command line and its continuation lines
    for line in text.splitlines():
        if command or re.match(r"(exec )?(nice( -n \S+)? )?ray start", line.lstrip()):
            command.append(line)
            if not line.rstrip().endswith("\\"):
                break
    flags = re.findall(r"(--[a-z][a-z-]+)", " ".join(command))
    assert "--block" in flags
    for flag in flags:
        assert flag in r.stdout, f"ray start has no option {flag}"
    if name == "ray-head":
        assert "--num-cpus=0" in text  # no trials on the head
