"""Shared fixtures: the samples, a regenerate switch for golden files, Prefect settings."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"

# The same environment the CLI sets: no telemetry, and time for a fresh server to migrate.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "600")


def records_of(*paths) -> list:
    """Every record under the given files or directories, as ingest would read them."""
    from tasks.sources import discover, iter_records

    files, _ = discover([str(p) for p in paths])
    return [item for file in files for item in iter_records(file) if type(item).__name__ == "RawRecord"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--regenerate-golden", action="store_true",
                     help="rewrite tests/golden/*.json from the current output instead of comparing")


@pytest.fixture
def regenerate(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--regenerate-golden"))


@pytest.fixture(scope="session")
def prefect_harness():
    """A real, temporary Prefect server and database for the tests that run flows."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=None):
        yield
