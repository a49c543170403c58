"""Cost of boilerplate labelling per paragraph.

Labels the paragraphs of realistic documents (the boilerplate fixture corpus, the samples
and generated news-like text) with the built-in rules, many times over, and prints the
cost per paragraph and per document, with and without the document-level detectors.

    .venv/bin/python bench/rules.py [--rounds 200]
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks.boilerplate import label_boilerplate, load_rules  # noqa: E402
from tasks.normalize import normalize_text, split_paragraphs  # noqa: E402
from tasks.records import Paragraph  # noqa: E402


def documents() -> list[list[str]]:
    """Paragraph lists: one per fixture document and sample."""
    docs = []
    for path in sorted((ROOT / "tests" / "fixtures" / "boilerplate").glob("*.txt")):
        current: list[str] = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("=== "):
                if current:
                    docs.append(current)
                current = []
            elif line.startswith("[") and "] " in line:
                current.append(line.split("] ", 1)[1])
        if current:
            docs.append(current)
    for path in sorted((ROOT / "samples").glob("*.txt")):
        docs.append(split_paragraphs(normalize_text(path.read_text(encoding="utf-8"))))
    return docs


def time_labelling(docs: list[list[str]], rules, rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        for texts in docs:
            label_boilerplate([Paragraph(i, text) for i, text in enumerate(texts)], rules)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()

    started = time.perf_counter()
    rules = load_rules()
    compile_ms = (time.perf_counter() - started) * 1000
    docs = documents()
    paragraphs = sum(map(len, docs)) * args.rounds
    shape_only = tuple(rule for rule in rules if rule.context is None)
    full = time_labelling(docs, rules, args.rounds)
    shapes = time_labelling(docs, shape_only, args.rounds)

    print(f"rules: {len(rules)} ({sum(len(r.patterns) + len(r.head) + len(r.tail) for r in rules)} patterns), "
          f"compiled once in {compile_ms:.1f} ms")
    print(f"documents: {len(docs)} x {args.rounds} rounds, {paragraphs} paragraphs labelled")
    print(f"all rules:          {full / paragraphs * 1e6:7.1f} µs per paragraph, "
          f"{full / (len(docs) * args.rounds) * 1e3:6.3f} ms per document")
    print(f"shape rules only:   {shapes / paragraphs * 1e6:7.1f} µs per paragraph")
    print_corpus_scores()


def print_corpus_scores() -> None:
    """The labelled corpus's scores, with the test suite's own scorer."""
    sys.path.insert(0, str(ROOT / "tests"))
    from test_boilerplate_corpus import DOCUMENTS, score

    content_removed, missed, total = score()
    by_rule = Counter(line.label for document in DOCUMENTS for line in document if line.label != "keep")
    missed_by_rule = Counter(line.label for line, _ in missed)
    keep = sum(line.label == "keep" for document in DOCUMENTS for line in document)
    print(f"\nlabelled corpus: {len(DOCUMENTS)} documents, {keep} content lines, {total} boilerplate lines")
    print(f"content lines removed: {len(content_removed)}; boilerplate caught: {1 - len(missed) / total:.1%}")
    for rule, count in by_rule.most_common():
        print(f"  {rule:<18} {count - missed_by_rule[rule]:>3}/{count}")


if __name__ == "__main__":
    main()
