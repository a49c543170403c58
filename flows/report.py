"""The run summary as rows: one shape for the Prefect table artifact and the terminal."""
from __future__ import annotations

from collections.abc import Mapping


def summary_rows(summary: Mapping) -> list[dict[str, str]]:
    """(metric, value) rows describing what a run loaded."""
    rows = [
        ("documents new", summary.get("documents_new", 0)),
        ("documents updated", summary.get("documents_updated", 0)),
        ("documents unchanged", summary.get("documents_unchanged", 0)),
        ("documents failed", summary.get("documents_failed", 0)),
        ("documents deleted", summary.get("documents_deleted", 0)),
        ("records skipped", summary.get("records_skipped", 0)),
        ("paragraphs kept", summary.get("paragraphs_kept", 0)),
        ("paragraphs removed", summary.get("paragraphs_removed", 0)),
        ("paragraphs duplicate", summary.get("paragraphs_duplicate", 0)),
    ]
    rows += [(f"removed by {rule}", count) for rule, count in summary.get("removed_by_rule", {}).items()]
    rows += [(f"language {lang}", count) for lang, count in summary.get("languages", {}).items()]
    return [{"metric": metric, "value": str(value)} for metric, value in rows]


def format_summary(summary: Mapping) -> str:
    """The summary as aligned plain text, failures listed last."""
    rows = summary_rows(summary)
    width = max(len(row["metric"]) for row in rows)
    lines = [f"{row['metric']:<{width}}  {row['value']:>8}" for row in rows]
    for source, stage, message in summary.get("failures", []):
        lines.append(f"failed [{stage}] {source}: {message}")
    return "\n".join(lines)
