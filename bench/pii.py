"""Precision and recall of docmill's personal-data detection (tasks/pii.py) on the labelled
fixture tests/fixtures/pii/labelled.jsonl: one line of text a row, with the spans it holds
(kind and text), and hard negatives: version numbers, dates, ISBNs, prices, IP-like version
strings, barcodes, MAC addresses, times.

    .venv/bin/python bench/pii.py

A found span counts as right when a labelled span of the same kind has the same text.
"""
from __future__ import annotations

import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks.pii import PiiKind, find_in_text  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "pii" / "labelled.jsonl"


@dataclass
class Score:
    right: int = 0
    found: int = 0
    labelled: int = 0
    wrong: list[str] = field(default_factory=list)  # "kind: text" found but not labelled
    missed: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.right / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.right / self.labelled if self.labelled else 1.0


def score(path: Path = FIXTURE) -> dict[str, Score]:
    """Scores per kind, and over all kinds under "all"."""
    scores = {kind: Score() for kind in [*PiiKind, "all"]}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        labelled = Counter((kind, value) for kind, value in row["pii"])
        found = Counter((str(kind), row["text"][start:end]) for kind, start, end in find_in_text(row["text"]))
        for (kind, value), count in (found | labelled).items():
            right = min(found[kind, value], labelled[kind, value])
            for s in (scores[kind], scores["all"]):
                s.right += right
                s.found += found[kind, value]
                s.labelled += labelled[kind, value]
                s.wrong += [f"{kind}: {value}"] * (found[kind, value] - right)
                s.missed += [f"{kind}: {value}"] * (labelled[kind, value] - right)
    return scores


def main() -> None:
    started = time.process_time()
    scores = score()
    lines = FIXTURE.read_text(encoding="utf-8").count("\n")
    print(f"{lines} lines, {time.process_time() - started:.3f} CPU-s")
    print(f"{'kind':<14}{'labelled':>9}{'found':>7}{'precision':>11}{'recall':>8}")
    for kind, s in scores.items():
        print(f"{kind:<14}{s.labelled:>9}{s.found:>7}{s.precision:>11.4f}{s.recall:>8.4f}")
    for item in scores["all"].wrong:
        print("  wrong  ", item)
    for item in scores["all"].missed:
        print("  missed ", item)


if __name__ == "__main__":
    main()
