"""The compose services as local processes: the very scripts of deploy/, on free loopback ports.

`LocalStack` starts PostgreSQL (``deploy/postgres.sh``, its own cluster in a temporary folder),
a Ray head (``deploy/ray-head.sh``), Ray worker nodes joined with ``--address``
(``deploy/ray-worker.sh``), the dashboard (``deploy/dashboard.sh``) and launchers
(``deploy/launcher.sh``), each in its own process group so a test can kill one like a container.
Every Ray process of the stack keeps its files under its own ``RAY_TMPDIR``, apart from any other
Ray instance on the machine. PostgreSQL needs its server binaries (Debian: /usr/lib/postgresql).
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stack_helpers import ROOT, free_port

from workers.remote import THREAD_ENV

DEPLOY = ROOT / "deploy"
OBJECT_STORE = "--object-store-memory=100000000"  # 100 MB a node: tiny trials, many nodes


def postgres_available() -> str | None:
    """None when deploy/postgres.sh can run here, else the reason it cannot."""
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        return "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb)"
    if os.geteuid() == 0:
        r = subprocess.run(["id", "-u", "postgres"], capture_output=True)
        if r.returncode != 0:
            return "running as root without a 'postgres' user to run the server as"
    return None


class LocalStack:
    def __init__(self) -> None:
        # short: Ray's unix socket paths live below it (the kernel caps them at 107 bytes)
        self.root = Path(tempfile.mkdtemp(prefix="cs", dir="/tmp"))
        self.root.chmod(0o755)  # the postgres user must reach its folders
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.pg_port, self.gcs_port = free_port(), free_port()
        self.dashboard_port, self.ray_dash_port = free_port(), free_port()
        self.owner_pw, self.reader_pw = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        bindir = str(Path(sys.executable).parent)
        self.env = dict(
            os.environ,
            PATH=f"{bindir}:{os.environ.get('PATH', '')}",
            RAY_TMPDIR=str(self.root),
            RAY_AUTH_MODE="disabled",  # a token in ~/.ray must not decide per node
            RAY_HEAD=f"127.0.0.1:{self.gcs_port}",
            WAIT_TIMEOUT="120",
            **THREAD_ENV,
        )
        self.env.pop("RAY_ADDRESS", None)

    # -- URLs --------------------------------------------------------------------------------
    def url(self, user: str = "carousel", password: str | None = None) -> str:
        pw = self.owner_pw if password is None else password
        return f"postgresql+psycopg://{user}:{pw}@127.0.0.1:{self.pg_port}/carousel"

    @property
    def reader_url(self) -> str:
        return self.url("carousel_reader", self.reader_pw)

    # -- processes ---------------------------------------------------------------------------
    def _node_args(self) -> str:
        return (
            f"--dashboard-agent-listen-port={free_port()} --metrics-export-port={free_port()} "
            f"{OBJECT_STORE}"
        )

    def start(self, name: str, script: str, **env: str) -> subprocess.Popen[bytes]:
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115  (closed with the process)
        proc = subprocess.Popen(
            ["bash", str(DEPLOY / script)],
            cwd=ROOT,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killed as a whole, like a container
        )
        log.close()
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start_postgres(self) -> None:
        self.start(
            "postgres", "postgres.sh",
            PGDATA=str(self.root / "pgdata"), PG_SOCKET_DIR=str(self.root / "pgsock"),
            PGPORT=str(self.pg_port), PG_LISTEN="127.0.0.1",
            POSTGRES_PASSWORD=self.owner_pw, DASHBOARD_DB_PASSWORD=self.reader_pw,
        )  # fmt: skip

    def start_head(self) -> None:
        self.start(
            "ray-head", "ray-head.sh",
            RAY_PORT=str(self.gcs_port), RAY_DASHBOARD_HOST="127.0.0.1",
            RAY_DASHBOARD_PORT=str(self.ray_dash_port), RAY_START_ARGS=self._node_args(),
        )  # fmt: skip

    def start_worker(self, name: str, cpus: int) -> None:
        self.start(
            name, "ray-worker.sh", RAY_WORKER_CPUS=str(cpus), RAY_START_ARGS=self._node_args()
        )

    def start_dashboard(self) -> None:
        self.start(
            "dashboard", "dashboard.sh",
            CAROUSEL_STORAGE=f"postgresql+psycopg://carousel_reader@127.0.0.1:{self.pg_port}/carousel",
            PGPASSWORD=self.reader_pw, DASHBOARD_PORT=str(self.dashboard_port),
            CAROUSEL_DASH_SLOW_S="0.5",  # its log names every run over 0.5 s (the load test)
        )  # fmt: skip

    def launcher(self, name: str, spec: Path, args: str = "") -> subprocess.Popen[bytes]:
        return self.start(
            name, "launcher.sh",
            CAROUSEL_STORAGE=f"postgresql+psycopg://carousel@127.0.0.1:{self.pg_port}/carousel",
            PGPASSWORD=self.owner_pw, STUDY_SPEC=str(spec), STUDY_ARGS=args,
            RAY_START_ARGS=self._node_args(),
        )  # fmt: skip

    def wait_ready(self, what: str, timeout: float = 180) -> None:
        """Until the service's own health check passes (the compose healthcheck command)."""
        script, env = {
            "postgres": ("postgres.sh", {"PGPORT": str(self.pg_port)}),
            "ray-head": (
                "ray-head.sh",
                {"RAY_PORT": str(self.gcs_port), "RAY_DASHBOARD_PORT": str(self.ray_dash_port)},
            ),
            "dashboard": ("dashboard.sh", {"DASHBOARD_PORT": str(self.dashboard_port)}),
        }[what]
        deadline = time.monotonic() + timeout
        while True:
            proc = self.procs[what]
            assert proc.poll() is None, f"{what} exited:\n{self.log(what)[-3000:]}"
            r = subprocess.run(
                ["bash", str(DEPLOY / script), "health"],
                env={**self.env, **env}, capture_output=True, timeout=30,
            )  # fmt: skip
            if r.returncode == 0:
                return
            assert time.monotonic() < deadline, f"{what} not ready:\n{self.log(what)[-3000:]}"
            time.sleep(0.5)

    def wait_cpus(self, cpus: int, timeout: float = 180) -> None:
        """Until the cluster offers that many CPUs (worker nodes joined)."""
        code = (
            "import ray, sys; ray.init(address=sys.argv[1], log_to_driver=False, "
            "logging_level='ERROR'); print(int(ray.cluster_resources().get('CPU', 0)))"
        )
        deadline = time.monotonic() + timeout
        while True:
            r = subprocess.run(
                [sys.executable, "-c", code, self.env["RAY_HEAD"]],
                env=self.env, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            got = r.stdout.strip().splitlines()[-1:] if r.returncode == 0 else []
            if got and int(got[0]) >= cpus:
                return
            assert time.monotonic() < deadline, f"cluster CPUs {got} < {cpus}: {r.stderr[-2000:]}"
            time.sleep(2)

    def kill(self, name: str, sig: int = signal.SIGKILL, group: bool = True) -> None:
        """Signal a service's whole process group (SIGKILL: as `docker kill` does), or only its
        first process (``group=False``: as `docker stop` signals a container's PID 1)."""
        proc = self.procs[name]
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)
        if sig == signal.SIGKILL:
            proc.wait(30)

    def stop(self) -> None:
        for name in reversed(list(self.procs)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.procs[name].pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
        for proc in self.procs.values():  # and whatever of a group outlived its leader
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        subprocess.run(["rm", "-rf", str(self.root)], check=False)
