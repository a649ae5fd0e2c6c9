"""`haven serve`: gunicorn (not the development server) in place of the command, compressed
and cacheable static files, a clear refusal on an unmigrated database or a bad option, a graceful
stop."""

import gzip
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

SERVE_TIMEOUT = 180  # the first start compresses every static file, slower on a busy machine


def _environment(var_dir: Path) -> dict[str, str]:
    environment = {**os.environ, "HAVEN_VAR_DIR": str(var_dir), "HAVEN_WORKERS": "2"}
    environment.pop("HAVEN_DATABASE_URL", None)  # a SQLite database of its own under var_dir
    return environment


def _haven(var_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
        [sys.executable, "-m", "haven", *args],
        env=_environment(var_dir),
        capture_output=True,
        text=True,
        timeout=SERVE_TIMEOUT,
        check=False,
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback http
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.status, dict(response.headers), response.read()


def _wait_until_up(url: str, server: "subprocess.Popen[str]") -> None:
    deadline = time.monotonic() + SERVE_TIMEOUT
    while time.monotonic() < deadline:
        assert server.poll() is None, server.communicate()[0]
        try:
            _get(url)
            return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"haven serve did not answer at {url} within {SERVE_TIMEOUT} s")


@pytest.fixture
def migrated(tmp_path: Path) -> Path:
    var_dir = tmp_path / "var"
    result = _haven(var_dir, "migrate", "--verbosity", "0")
    assert result.returncode == 0, result.stderr
    return var_dir


@pytest.fixture
def served(migrated: Path) -> Iterator[tuple[str, "subprocess.Popen[str]", Path]]:
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
        [sys.executable, "-m", "haven", "serve", "--port", str(port)],
        env=_environment(migrated),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{base}/login/", server)
        yield base, server, migrated
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)


def test_serve_runs_gunicorn_with_compressed_cacheable_static_files(
    served: tuple[str, "subprocess.Popen[str]", Path],
) -> None:
    base, server, var_dir = served
    status, headers, body = _get(f"{base}/login/")
    assert status == 200
    assert headers["Server"] == "gunicorn"
    assert b'name="username"' in body
    # The command became gunicorn's arbiter: the same process, so signals reach the server.
    cmdline = Path(f"/proc/{server.pid}/cmdline").read_bytes().split(b"\0")
    assert b"gunicorn" in cmdline
    status, headers, body = _get(f"{base}/static/admin/css/base.css", {"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert b"body" in gzip.decompress(body)
    assert "public" in headers["Cache-Control"]
    assert (var_dir / "static" / "admin" / "css" / "base.css.gz").exists()


def test_the_access_log_keeps_no_query_string(
    served: tuple[str, "subprocess.Popen[str]", Path],
) -> None:
    """A search's query holds the names typed at the desk: the log has the path only."""
    base, server, _ = served
    _get(f"{base}/login/?next=/registrations/%3Fq%3DHarutyunyan", {"Referer": f"{base}/?q=Anahit"})
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=60)
    log = server.stdout.read() if server.stdout else ""
    assert '"GET /login/ HTTP/1.1" 200' in log
    assert "Harutyunyan" not in log
    assert "Anahit" not in log


def test_serve_stops_gracefully_on_sigterm(
    served: tuple[str, "subprocess.Popen[str]", Path],
) -> None:
    _, server, _ = served
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=60) == 0
    assert "Shutting down" in (server.stdout.read() if server.stdout else "")


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    result = _haven(tmp_path / "var", "serve", "--port", str(_free_port()))
    assert result.returncode != 0
    assert "unapplied migrations" in result.stderr
    assert "haven migrate" in result.stderr


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--workers", "0"], "--workers must be at least 1"),
        (["--port", "70000"], "--port must be between 1 and 65535"),
    ],
)
def test_serve_refuses_bad_options(migrated: Path, option: list[str], message: str) -> None:
    result = _haven(migrated, "serve", *option)
    assert result.returncode != 0
    assert message in result.stderr
