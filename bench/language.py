"""Language identification on short sentences: docmill against bare langdetect.

    .venv/bin/python bench/language.py            # print the table
    .venv/bin/python bench/language.py --write    # and put it in docs/benchmarks.md

The sentences are tests/fixtures/language/short_sentences.tsv (20-120 characters, built by
bench/build_short_sentences.py from Universal Dependencies treebanks). docmill is
``tasks.language.detect_languages``; bare is langdetect-rs's most probable language with no
threshold and no script rule (``und`` only where it finds no features); "20-letter floor" is
bare with docmill's former rule, ``und`` under 20 letters. An answer is right when it is
the sentence's language exactly (zh-cn and zh-tw are told apart); ``und`` counts as wrong.
Per language, per script family (the script of the language's rule with the fewest
languages: Japanese is Kana, Chinese Han), and overall, with the ``und`` rate (every
sentence has 20 characters or more) and the CPU time per sentence (best of three runs).
"""
from __future__ import annotations

import argparse
import csv
import datetime
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks.language import MIN_LETTERS, SCRIPT_RULES, detect_languages, init_detector  # noqa: E402
from tasks.records import UNDETERMINED  # noqa: E402
from tasks.scripts import letters_by_script  # noqa: E402

SENTENCES = ROOT / "tests" / "fixtures" / "language" / "short_sentences.tsv"
BENCHMARKS = ROOT / "docs" / "benchmarks.md"
HEADING = "## Language identification on short sentences"
COMMAND = ".venv/bin/python bench/language.py --write"


def read_sentences(path: Path = SENTENCES) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as tsv:
        return [(row["lang"], row["text"]) for row in csv.DictReader(tsv, delimiter="\t", quoting=csv.QUOTE_NONE)]


def script_family(lang: str) -> str:
    rules = [(len(rule.languages), script) for script, rule in SCRIPT_RULES.items() if lang in rule.languages]
    return min(rules)[1]


def bare_langdetect(texts: list[str]) -> list[str]:
    detector = init_detector()
    answers = []
    for text in texts:
        try:
            answers.append(detector.detect_langs(text)[0].lang)
        except detector.LangDetectException:
            answers.append(UNDETERMINED)
    return answers


def with_20_letter_floor(texts: list[str], bare: list[str]) -> list[str]:
    return [answer if sum(letters_by_script(text, MIN_LETTERS).values()) >= MIN_LETTERS else UNDETERMINED
            for text, answer in zip(texts, bare)]


def timed(run, texts: list[str]) -> tuple[list[str], float]:
    """The answers, and the least CPU time per text in microseconds over three runs."""
    times = []
    for _ in range(3):
        start = time.process_time()
        answers = run(texts)
        times.append(time.process_time() - start)
    return answers, min(times) / len(texts) * 1e6


class Tally:
    """Right answers and ``und`` of each detector (docmill, 20-letter floor, bare)."""

    def __init__(self) -> None:
        self.n = 0
        self.right = [0, 0, 0]
        self.und = [0, 0, 0]

    def add(self, lang: str, answers: tuple[str, str, str]) -> None:
        self.n += 1
        for index, answer in enumerate(answers):
            self.right[index] += answer == lang
            self.und[index] += answer == UNDETERMINED

    def row(self, name: str) -> str:
        shares = [f"{count / self.n:.3f}" for count in (*self.right, *self.und)]
        return f"| {name} | {self.n} | " + " | ".join(shares) + " |"


def table(sentences: list[tuple[str, str]]) -> str:
    texts = [text for _, text in sentences]
    init_detector()
    bare, bare_us = timed(bare_langdetect, texts)
    docmill, docmill_us = timed(lambda batch: [lang for lang, _ in detect_languages(batch)], texts)
    floor = with_20_letter_floor(texts, bare)
    by_language, by_family, overall = defaultdict(Tally), defaultdict(Tally), Tally()
    for (lang, _), *answers in zip(sentences, docmill, floor, bare):
        for tally in (by_language[lang], by_family[script_family(lang)], overall):
            tally.add(lang, tuple(answers))
    header = ["| | sentences | accuracy: docmill | 20-letter floor | bare | und: docmill | 20-letter floor | bare |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    lines = [f"{len(sentences)} sentences of 20-120 characters in {len(by_language)} languages; "
             f"CPU: docmill {docmill_us:.0f} µs a sentence, bare langdetect-rs {bare_us:.0f} µs.", "",
             "By script family:", "", *header,
             *(by_family[family].row(family) for family in sorted(by_family)), overall.row("**all**"), "",
             "By language:", "", *header,
             *(by_language[lang].row(lang) for lang in sorted(by_language))]
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Replace this benchmark's section of docs/benchmarks.md (from its heading to the next
    heading of the same level), or append it."""
    section = (f"{HEADING}\n\n`{COMMAND}`, {datetime.date.today().isoformat()}\n\n{text}\n")
    old = BENCHMARKS.read_text(encoding="utf-8") if BENCHMARKS.exists() else "# Benchmarks\n"
    start = old.find(HEADING)
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + section
    else:
        end = old.find("\n## ", start + len(HEADING))
        new = old[:start] + section + ("" if end < 0 else "\n" + old[end + 1:])
    BENCHMARKS.parent.mkdir(exist_ok=True)
    BENCHMARKS.write_text(new, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"also write the table to {BENCHMARKS.relative_to(ROOT)}")
    args = parser.parse_args()
    text = table(read_sentences())
    print(text)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()
