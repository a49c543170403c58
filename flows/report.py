"""The run summary as rows: one shape for the Prefect table artifact and the terminal."""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence


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
    if "seconds" in summary:
        rows.insert(0, ("run duration (s)", summary["seconds"]))
    if "source_files" in summary:
        rows.insert(1, ("source files seen", summary["source_files"]))
    by_stage = Counter(stage for _, stage, _ in summary.get("failures", []))
    rows += [(f"failed at {stage}", count) for stage, count in by_stage.most_common()]
    rows += [(f"removed by {rule}", count) for rule, count in summary.get("removed_by_rule", {}).items()]
    rows += [(f"language {lang}", count) for lang, count in summary.get("languages", {}).items()]
    rows += [(f"documents failing {name}", count) for name, count in summary.get("quality", {}).items()]
    if "pii" in summary:
        rows.append(("personal data spans", sum(summary["pii"].values())))
        rows += [(f"personal data {kind}", count) for kind, count in summary["pii"].items()]
    return [{"metric": metric, "value": str(value)} for metric, value in rows]


def format_summary(summary: Mapping) -> str:
    """The summary as aligned plain text, failures listed last."""
    rows = summary_rows(summary)
    width = max(len(row["metric"]) for row in rows)
    lines = [f"{row['metric']:<{width}}  {row['value']:>8}" for row in rows]
    for source, stage, message in summary.get("failures", []):
        lines.append(f"failed [{stage}] {source}: {message}")
    return "\n".join(lines)


def failures_markdown(failures: Sequence[tuple[str, str, str]], limit: int = 50) -> str:
    """The run's failures as a markdown table, most frequent stage first, for the Prefect UI."""
    by_stage = Counter(stage for _, stage, _ in failures)
    lines = [f"# {len(failures)} sources could not be ingested", "",
             ", ".join(f"{stage}: {count}" for stage, count in by_stage.most_common()), "",
             "| stage | source | message |", "|---|---|---|"]
    ordered = sorted(failures, key=lambda failure: (-by_stage[failure[1]], failure[0]))
    for source, stage, message in ordered[:limit]:
        lines.append(f"| {stage} | `{source}` | {message.replace('|', '/')} |")
    if len(failures) > limit:
        lines.append(f"\n… and {len(failures) - limit} more: `SELECT * FROM failures WHERE run_id = '…'`")
    return "\n".join(lines)
