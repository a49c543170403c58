"""Running docmill in production, on a real Prefect server started by the tests:
deployments from deployments/prefect.yaml run by a real worker, the UI in a real headless
browser, and one writer per database."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from flows import server as prefect_server
from flows.serve import deployment_spec

from conftest import ROOT, SAMPLES

pytestmark = pytest.mark.prefect


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    state = tmp_path_factory.mktemp("prefect-server")
    server = prefect_server.start(state, port=free_port(), timeout=600)
    yield server
    prefect_server.stop(state)


@pytest.fixture(scope="module")
def client_env(live_server, tmp_path_factory) -> dict[str, str]:
    """The environment of a person whose shell points at the server."""
    return {
        **os.environ, **prefect_server.PREFECT_DEFAULTS,
        "PREFECT_API_URL": live_server.api_url,
        "PREFECT_HOME": str(tmp_path_factory.mktemp("prefect-client")),
    }


def run(command: list[str], env: dict, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if check:
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result


@contextmanager
def api_client(client_env: dict):
    """A Prefect client talking to the test's server (settings are read at import, so the
    environment alone is not enough in this process)."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: client_env["PREFECT_API_URL"]}), get_client(sync_client=True) as client:
        yield client


PREFECT = [sys.executable, "-m", "prefect"]
DOCMILL = [sys.executable, "-m", "flows.cli"]


@pytest.fixture(scope="module")
def deployed_run(client_env, tmp_path_factory):
    """Deploy from the project's YAML, trigger the ad-hoc deployment on the samples, and
    let a worker run it once. Returns the flow run, the database and the seconds taken."""
    db = tmp_path_factory.mktemp("deployed") / "corpus.duckdb"
    run([*PREFECT, "work-pool", "create", "docmill", "--type", "process"], client_env)
    run([*PREFECT, "--no-prompt", "deploy", "--prefect-file", "deployments/prefect.yaml", "--all"], client_env)
    with api_client(client_env) as client:
        deployment = client.read_deployment_by_name("ingest/adhoc")
        triggered = time.monotonic()
        flow_run = client.create_flow_run_from_deployment(
            deployment.id, parameters={"sources": [str(SAMPLES)], "db": str(db)}
        )
        run([*PREFECT, "worker", "start", "--pool", "docmill", "--run-once"], client_env)
        while not (finished := client.read_flow_run(flow_run.id)).state.is_final():
            time.sleep(0.5)
        seconds = time.monotonic() - triggered
    return finished, db, seconds


def test_deployments_come_from_the_yaml(deployed_run, client_env):
    with api_client(client_env) as client:
        nightly = client.read_deployment_by_name("ingest/nightly")
    spec = deployment_spec("nightly")
    assert [s.schedule.cron for s in nightly.schedules] == [spec["schedules"][0]["cron"]]
    assert nightly.work_pool_name == "docmill" and nightly.parameters == spec["parameters"]
    assert nightly.global_concurrency_limit.limit == 1
    assert nightly.concurrency_options.collision_strategy.value == "ENQUEUE"


def test_worker_runs_the_deployment_into_duckdb_with_artifacts(deployed_run, client_env):
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    flow_run, db, seconds = deployed_run
    print(f"\nscheduled run of the samples: {seconds:.1f} s from trigger to completion")
    assert flow_run.state.is_completed(), flow_run.state.message
    assert flow_run.name == f"ingest samples → {db.name}"
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*), sum(n_kept), sum(n_removed) FROM documents").fetchone() == (2, 23, 8)
        assert con.execute("SELECT run_id, status FROM runs").fetchall() == [(str(flow_run.id), "completed")]
    with api_client(client_env) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.id]))
        )
        task_runs = client.read_task_runs()
    by_key = {artifact.key: artifact for artifact in artifacts}
    assert {"ingest-summary", "ingest-progress"} <= by_key.keys()
    assert {"metric": "documents new", "value": "2"} in json.loads(by_key["ingest-summary"].data)
    assert {"clean batch 1", "load batch 1"} <= {t.name for t in task_runs if t.flow_run_id == flow_run.id}


def test_a_deployed_run_that_gives_up_on_the_lock_is_retried_and_reaches_runs(deployed_run, client_env, tmp_path):
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    from storage.lock import writer_lock

    db = tmp_path / "corpus.duckdb"
    with api_client(client_env) as client:
        deployment = client.read_deployment_by_name("ingest/adhoc")
        env = deployment.job_variables["env"]
        retries = int(env["PREFECT_FLOWS_DEFAULT_RETRIES"])
        assert retries >= 1 and deployment.parameters["lock_timeout"] <= 600  # minutes, not an hour
        with writer_lock(db, "analyst-session", timeout=1):
            flow_run = client.create_flow_run_from_deployment(
                deployment.id, parameters={"sources": [str(SAMPLES)], "db": str(db), "lock_timeout": 1},
                job_variables={"env": {**env, "PREFECT_FLOWS_DEFAULT_RETRY_DELAY_SECONDS": "0"}},  # the test's patience
            )
            run([*PREFECT, "worker", "start", "--pool", "docmill", "--run-once"], client_env)
            while not (finished := client.read_flow_run(flow_run.id)).state.is_final():
                time.sleep(0.5)
        logs = [log.message for log in client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run.id])))]
    assert finished.state.is_failed() and finished.run_count == retries + 1
    assert "is being written by docmill run analyst-session" in finished.state.message
    assert sum(message.startswith(f"{db} is being written by") for message in logs) == retries + 1  # once an attempt
    assert not any("Traceback" in message for message in logs)
    run([*DOCMILL, "ingest", str(SAMPLES), "--db", str(db)], client_env)  # the next run records it
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT run_id, status FROM runs ORDER BY started_at LIMIT 1").fetchall() == [
            (str(flow_run.id), "failed")]
    stats = run([*DOCMILL, "stats", "--db", str(db)], client_env).stdout
    assert "failed_runs" in stats


def test_ui_shows_the_run_and_its_summary(deployed_run, live_server, tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is missing: `make test` installs it when run as root")
        pytest.skip("Debian's chromium is not installed (make test installs it as root)")
    from playwright.sync_api import sync_playwright

    flow_run, _, _ = deployed_run
    screenshot = tmp_path / "flow-run-artifacts.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{live_server.ui_url}/runs/flow-run/{flow_run.id}", timeout=120_000)
        page.get_by_text(flow_run.name).first.wait_for(timeout=60_000)
        page.get_by_text("Artifacts", exact=True).first.click()
        page.get_by_text("ingest-summary").first.wait_for(timeout=60_000)
        page.get_by_text("ingest-summary").first.click()
        page.get_by_text("removed by truncated_repeat").first.wait_for(timeout=60_000)
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    assert screenshot.stat().st_size > 10_000
    print(f"\nscreenshot of the run's summary artifact: {screenshot}")


def _paragraphs(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT doc_id, position, status, removed_by, text FROM paragraphs ORDER BY ALL").fetchall()


def test_two_ingests_at_once_end_as_one_clean_run(client_env, tmp_path):
    db = tmp_path / "corpus.duckdb"
    command = [*DOCMILL, "ingest", str(SAMPLES), "--db", str(db), "--wait", "300"]
    first, second = (subprocess.Popen(command, cwd=ROOT, env=client_env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True) for _ in range(2))
    outputs = [process.communicate(timeout=600) for process in (first, second)]
    assert [process.returncode for process in (first, second)] == [0, 0], outputs
    alone = tmp_path / "alone.duckdb"
    run([*DOCMILL, "ingest", str(SAMPLES), "--db", str(alone)], client_env)
    assert _paragraphs(db) == _paragraphs(alone)
    with duckdb.connect(str(db), read_only=True) as con:
        runs = sorted(con.execute("SELECT documents_new, documents_unchanged, status FROM runs").fetchall())
    assert runs == [(0, 2, "completed"), (2, 0, "completed")]


def test_a_second_run_waits_its_turn_then_says_who_held_the_lock(client_env, tmp_path):
    from storage.lock import DatabaseBusy, writer_lock

    db = tmp_path / "corpus.duckdb"
    with writer_lock(db, "nightly-123", timeout=1):
        result = run([*DOCMILL, "ingest", str(SAMPLES), "--db", str(db), "--wait", "2"], client_env, check=False)
        with pytest.raises(DatabaseBusy, match="being written by docmill run nightly-123 \\(pid"):
            with writer_lock(db, "other", timeout=0.5):
                pass
    assert result.returncode == 3
    assert f"{db} is being written by docmill run nightly-123" in result.stderr
    assert "Traceback" not in result.stderr
    assert not db.exists()  # nothing half-written


def test_database_held_open_elsewhere_gets_a_clear_message_then_a_retry(client_env, tmp_path):
    db = tmp_path / "corpus.duckdb"
    duckdb.connect(str(db)).close()
    # Held until told to let go, not for a fixed time: a slow start of the ingest must not
    # find the file free already.
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, sys; c = duckdb.connect({str(db)!r}); "
                               "print('open', flush=True); sys.stdin.readline()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        refused = run([*DOCMILL, "ingest", str(SAMPLES), "--db", str(db), "--wait", "1"], client_env, check=False)
        assert refused.returncode == 3 and "Traceback" not in refused.stderr
        assert f"{db} is open in process {holder.pid} (python)" in refused.stderr
        waiting = subprocess.Popen([*DOCMILL, "ingest", str(SAMPLES), "--db", str(db), "--wait", "120"], cwd=ROOT,
                                   env=client_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(3)
        holder.stdin.close()  # lets go while the second ingest retries
        stdout, stderr = waiting.communicate(timeout=600)
        assert waiting.returncode == 0, stderr
        assert "documents new                       2" in stdout
    finally:
        holder.kill()


def test_serve_runs_the_schedule_in_one_process_and_does_not_pause_it(client_env):
    serve = subprocess.Popen([*DOCMILL, "serve", "nightly"], cwd=ROOT, env=client_env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        with api_client(client_env) as client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    served = client.read_deployment_by_name("ingest/nightly-served")
                    break
                except Exception:
                    assert time.monotonic() < deadline and serve.poll() is None, serve.stdout.read()
                    time.sleep(1)
            assert [s.schedule.cron for s in served.schedules] == ["0 2 * * *"]
            assert served.parameters == deployment_spec("nightly")["parameters"]
            serve.send_signal(signal.SIGINT)
            serve.wait(timeout=60)
            assert client.read_deployment_by_name("ingest/nightly-served").paused is False
    finally:
        if serve.poll() is None:
            serve.kill()
