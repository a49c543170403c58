"""Build the short-sentence development set for language identification.

    .venv/bin/python bench/build_short_sentences.py MIRRORS [--out tests/fixtures/language/short_sentences.tsv]

MIRRORS holds bare git copies of Universal Dependencies treebanks, one per folder named
``UniversalDependencies+UD_<Treebank>`` with the repository in ``repo/`` (as the
workplace's fetch tool leaves them). Each treebank's ``# text =`` lines are its sentences;
those of 20 to 120 characters are kept, a language's treebanks pooled and deduplicated, and
up to PER_LANGUAGE drawn by a hash of the text (deterministic, no seed to keep): half of
20-49 characters and half of 50-120, so that the short end, where language identification
is hard, is not drowned by the long one. Only languages langdetect has a profile for, and
only those with at least MIN_PER_LANGUAGE sentences, are written.

Output: a TSV of ``lang``, ``treebank``, ``text``, sorted by language then text. The set is
for development (bench/language.py); hand-written test cases live in tests/test_language.py.
"""
from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "tests" / "fixtures" / "language" / "short_sentences.tsv"

MIN_CHARS, SPLIT_CHARS, MAX_CHARS = 20, 50, 120
PER_LANGUAGE = 80
MIN_PER_LANGUAGE = 50

# langdetect code -> the treebanks its sentences come from. zh-cn and zh-tw are the same
# GSD sentences in simplified and traditional characters; the draw differs by code.
# The set is committed, so only treebanks under licences without non-commercial or GPL terms
# (CC BY, CC BY-SA): bg, et, hu and ur are left out, as UD has no such treebank of theirs.
TREEBANKS = {
    "af": ["Afrikaans-AfriBooms"], "ar": ["Arabic-PUD"], "bn": ["Bengali-BRU"],
    "cs": ["Czech-CAC"], "cy": ["Welsh-CCG"], "da": ["Danish-DDT"], "de": ["German-GSD"],
    "el": ["Greek-GUD"], "en": ["English-EWT"], "es": ["Spanish-GSD"], "fa": ["Persian-Seraji"],
    "fi": ["Finnish-TDT"], "fr": ["French-GSD"], "gu": ["Gujarati-GujTB"],
    "he": ["Hebrew-IAHLTwiki"], "hi": ["Hindi-PUD"], "hr": ["Croatian-SET"],
    "id": ["Indonesian-GSD"], "it": ["Italian-PUD"], "ja": ["Japanese-GSD"], "ko": ["Korean-GSD"],
    "lt": ["Lithuanian-ALKSNIS"], "lv": ["Latvian-LVTB"], "mk": ["Macedonian-MTB"],
    "ml": ["Malayalam-UFAL"], "mr": ["Marathi-UFAL"], "nl": ["Dutch-Alpino"],
    "no": ["Norwegian-Bokmaal"], "pl": ["Polish-MPDT"], "pt": ["Portuguese-GSD"],
    "ro": ["Romanian-RRT"], "ru": ["Russian-GSD"], "sk": ["Slovak-SNK"], "sl": ["Slovenian-SSJ"],
    "sq": ["Albanian-STAF"], "sv": ["Swedish-Talbanken"], "ta": ["Tamil-MWTT"],
    "te": ["Telugu-MTG"], "th": ["Thai-PUD"], "tl": ["Tagalog-TRG"], "tr": ["Turkish-BOUN"],
    "uk": ["Ukrainian-ParlaMint"], "vi": ["Vietnamese-VTB"], "zh-cn": ["Chinese-GSDSimp"],
    "zh-tw": ["Chinese-GSD"],
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", f"--git-dir={repo}", *args], check=True, capture_output=True,
                          text=True).stdout


def treebank_sentences(mirrors: Path, treebank: str) -> list[str]:
    """The ``# text =`` sentences of a treebank's .conllu files present in its copy (files
    the copy lacks, such as very large training files, are skipped)."""
    repo = mirrors / f"UniversalDependencies+UD_{treebank}" / "repo"
    sentences = []
    for name in git(repo, "ls-tree", "--name-only", "HEAD").split():
        if not name.endswith(".conllu"):
            continue
        try:
            text = git(repo, "show", f"HEAD:{name}")
        except subprocess.CalledProcessError:
            print(f"  {treebank}: {name} missing from the copy, skipped", file=sys.stderr)
            continue
        sentences += [line[len("# text = "):].strip() for line in text.splitlines() if line.startswith("# text = ")]
    return sentences


def draw(lang: str, sentences: set[str]) -> list[str]:
    def order(text: str) -> str:
        return hashlib.blake2b(f"{lang}\t{text}".encode(), digest_size=8).hexdigest()

    short = sorted((s for s in sentences if len(s) < SPLIT_CHARS), key=order)
    long = sorted((s for s in sentences if len(s) >= SPLIT_CHARS), key=order)
    half = PER_LANGUAGE // 2
    take_short = min(len(short), max(half, PER_LANGUAGE - len(long)))
    return short[:take_short] + long[:PER_LANGUAGE - take_short]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mirrors", type=Path)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    rows = []
    for lang, treebanks in sorted(TREEBANKS.items()):
        pool: dict[str, str] = {}
        for treebank in treebanks:
            for sentence in treebank_sentences(args.mirrors, treebank):
                if MIN_CHARS <= len(sentence) <= MAX_CHARS and "\t" not in sentence:
                    pool.setdefault(sentence, treebank)
        chosen = draw(lang, set(pool))
        print(f"{lang:<6} {len(pool):>6} candidates, {len(chosen):>4} drawn", file=sys.stderr)
        if len(chosen) < MIN_PER_LANGUAGE:
            continue
        rows += sorted((lang, pool[text], text) for text in chosen)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8", newline="\n") as out:
        out.write("lang\ttreebank\ttext\n")
        out.writelines("\t".join(row) + "\n" for row in rows)
    print(f"{len(rows)} sentences in {len({row[0] for row in rows})} languages -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
