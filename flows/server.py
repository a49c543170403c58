"""A local Prefect server with its UI, run in the background for `docmill server start`,
`make server` and the tests that need a real server.

Its PREFECT_HOME (database, logs) lives in the project's state folder, its PID in a file
there, so `docmill server stop` stops exactly the server it started.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

DEFAULT_STATE = Path(".state")
# No network here and no telemetry wanted; the first server-less run migrates a fresh
# SQLite database, which can take longer than Prefect's 20 s default start-up timeout.
PREFECT_DEFAULTS = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "600",
}


def apply_prefect_defaults() -> None:
    """Set PREFECT_DEFAULTS in this process's environment, where the user has not; before
    Prefect is imported, which reads its settings once."""
    for name, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)


class ServerError(RuntimeError):
    """The server could not be started or stopped; the message says why and where to look."""


@dataclass(frozen=True)
class Server:
    pid: int
    host: str
    port: int
    home: Path
    log: Path

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}/api"

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.port}"


def _paths(state: Path) -> tuple[Path, Path, Path]:
    return state / "prefect", state / "prefect-server.pid", state / "prefect-server.log"


def _healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _alive(pid: int) -> bool:
    try:  # our own child (in tests) must be reaped, or it lingers as a zombie
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running(state: Path = DEFAULT_STATE) -> Server | None:
    """The server this state folder started, if it is still running."""
    home, pid_file, log = _paths(state)
    try:
        pid, host, port = pid_file.read_text(encoding="utf-8").split()
    except (OSError, ValueError):
        return None
    return Server(int(pid), host, int(port), home, log) if _alive(int(pid)) else None


def start(state: Path = DEFAULT_STATE, host: str = "127.0.0.1", port: int = 4200, timeout: float = 300) -> Server:
    """Start `prefect server start` in the background and wait until its API answers."""
    existing = running(state)
    if existing is not None:
        return existing
    home, pid_file, log = _paths(state)
    home.mkdir(parents=True, exist_ok=True)
    environment = {
        **os.environ, **PREFECT_DEFAULTS, "PREFECT_HOME": str(home.resolve()),
        # the UI calls the API at this address; by default it assumes port 4200
        "PREFECT_UI_API_URL": f"http://{host}:{port}/api",
    }
    environment.pop("PREFECT_API_URL", None)  # the server must not try to talk to another one
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)]
    with open(log, "ab") as output:
        process = subprocess.Popen(command, env=environment, stdout=output, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    server = Server(process.pid, host, port, home, log)
    pid_file.write_text(f"{process.pid} {host} {port}\n", encoding="utf-8")
    deadline = time.monotonic() + timeout
    while not _healthy(server.api_url):
        if process.poll() is not None:
            pid_file.unlink(missing_ok=True)
            raise ServerError(f"the Prefect server exited with code {process.returncode}; see {log}")
        if time.monotonic() > deadline:
            stop(state)
            raise ServerError(f"the Prefect server did not answer within {timeout:g} s; see {log}")
        time.sleep(0.5)
    return server


def stop(state: Path = DEFAULT_STATE, timeout: float = 30) -> bool:
    """Stop the server this state folder started; False if none was running."""
    server = running(state)
    _, pid_file, _ = _paths(state)
    if server is None:
        pid_file.unlink(missing_ok=True)
        return False
    os.killpg(server.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(server.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(server.pid):
        os.killpg(server.pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True


# --- the temporary server of a `docmill ingest` -----------------------------------------------

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def start_temporary_server() -> None:
    """Start the temporary server Prefect would start for a run with no server configured,
    as Prefect does, but in a session of its own and set to end with this process. In this
    process's group, Ctrl-C stopped it too, and Prefect then retried for minutes to report
    to it; and when this process was killed (-9), it ran on for good."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        return
    from prefect.server.api.server import SubprocessASGIServer

    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (AttributeError, OSError):
        prctl = None  # not Linux: it is stopped when this process exits normally

    def end_with_parent() -> None:  # in the child, between fork and exec
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    popen = subprocess.Popen

    def in_own_session(*args, **kwargs):
        return popen(*args, **kwargs, start_new_session=True, preexec_fn=end_with_parent)

    subprocess.Popen = in_own_session  # Prefect's start() runs Popen; nothing else runs meanwhile
    try:
        SubprocessASGIServer().start()
    finally:
        subprocess.Popen = popen


def stop_temporary_server() -> None:
    """Stop the temporary server of this process, if one runs."""
    module = sys.modules.get("prefect.server.api.server")
    if module is not None:
        for server in list(module.SubprocessASGIServer._instances.values()):
            server.stop()
