"""Shared fixtures: the samples, a regenerate switch for golden files, Prefect settings."""
from __future__ import annotations

from pathlib import Path

import pytest

from flows.server import apply_prefect_defaults

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"

apply_prefect_defaults()  # the environment the CLI sets, before any test imports Prefect


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
