"""``carousel-dashboard``: argument checks, and that it binds to localhost unless told otherwise."""

from __future__ import annotations

import pytest

from dashboard import serve
from dashboard.data import storage_url


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--storage", "sqlte:///carousel.db"], "unsupported database URL"),
        (["--storage", "sqlite://"], "in-memory SQLite"),
        (["--storage", "sqlite:///x.db", "--port", "70000"], "--port"),
    ],
)
def test_bad_arguments_exit_2(
    args: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert serve.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("carousel-dashboard: error:") and words in err


def test_defaults_bind_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAROUSEL_STORAGE", raising=False)
    args = serve.build_parser().parse_args([])
    assert (args.host, args.port, args.storage) == ("127.0.0.1", 8501, "sqlite:///carousel.db")
    monkeypatch.setenv("CAROUSEL_STORAGE", "sqlite:///other.db")
    assert serve.build_parser().parse_args([]).storage == "sqlite:///other.db"
    cmd = serve.streamlit_command("127.0.0.1", 8501)
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--server.headless") + 1] == "true"
    assert cmd[cmd.index("--browser.gatherUsageStats") + 1] == "false"
    assert serve.APP.name == "app.py" and serve.APP.exists()


def test_app_reads_storage_from_argument_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAROUSEL_STORAGE", "sqlite:///env.db")
    assert storage_url([]) == "sqlite:///env.db"
    assert storage_url(["--storage", "sqlite:///arg.db"]) == "sqlite:///arg.db"
    assert storage_url(["--storage=sqlite:///eq.db"]) == "sqlite:///eq.db"
    monkeypatch.delenv("CAROUSEL_STORAGE")
    assert storage_url([]) == "sqlite:///carousel.db"
