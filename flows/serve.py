"""`docmill serve`: the nightly deployment in one process, with Prefect's `serve`, for
people who run no workers. Its schedule, parameters and concurrency limit are read from
deployments/prefect.yaml, the one place they are written down."""
from __future__ import annotations

from pathlib import Path

import yaml
from prefect.client.schemas.objects import ConcurrencyLimitConfig
from prefect.schedules import Cron

DEPLOYMENTS = Path(__file__).resolve().parent.parent / "deployments" / "prefect.yaml"


def deployment_spec(name: str, path: Path = DEPLOYMENTS) -> dict:
    """One deployment's entry in the project's prefect.yaml."""
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    for deployment in spec.get("deployments", []):
        if deployment.get("name") == name:
            return deployment
    raise KeyError(f"no deployment named {name!r} in {path}")


def serve(name: str = "nightly", parameters: dict | None = None) -> None:
    """Serve a deployment until interrupted; stopping it leaves its schedule active, so a
    worker-based setup (or the next `docmill serve`) still runs it."""
    from flows.ingest import ingest

    spec = deployment_spec(name)
    limit = spec.get("concurrency_limit")
    env = ((spec.get("work_pool") or {}).get("job_variables") or {}).get("env") or {}
    # The retries a worker's process reads from the deployment's environment, for this process.
    retrying = ingest.with_options(
        retries=int(env.get("PREFECT_FLOWS_DEFAULT_RETRIES", 0)),
        retry_delay_seconds=float(env.get("PREFECT_FLOWS_DEFAULT_RETRY_DELAY_SECONDS", 0)),
    )
    retrying.serve(
        name=f"{name}-served",
        schedules=[Cron(s["cron"], timezone=s.get("timezone")) for s in spec.get("schedules", []) if "cron" in s],
        parameters={**spec.get("parameters", {}), **(parameters or {})},
        description=spec.get("description"),
        tags=spec.get("tags"),
        global_limit=ConcurrencyLimitConfig(**limit) if isinstance(limit, dict) else limit,
        pause_on_shutdown=False,
    )
