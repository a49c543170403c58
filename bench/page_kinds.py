"""Extraction quality per kind of page: docmill against bare trafilatura, side by side, in one run.

wcxb-dev (907 pages of seven kinds: article, service, product, collection, forum, listing,
documentation) is packed into a WARC and ingested with `docmill ingest` as a user would; each
page's final text is read back from DuckDB and scored with the benchmark's own metric
(bag of \\w+ words, lower-cased; precision, recall and F1 per page, averaged over pages),
overall and per page type. Bare `trafilatura.extract` (as the benchmark runs it: comments off,
tables on) is scored and timed on the same pages with the same number of processes. Also
printed: how many must-contain and must-not-contain snippets each keeps, the pages where docmill
trails bare trafilatura most, and the article-extraction-benchmark set with its own metric
(4-word shingles, bench/extraction.py), so that articles are checked in the same run.

    .venv/bin/python bench/page_kinds.py [--wcxb ../shared/dev-data/wcxb-dev] [--worst 15] [--write]

--write replaces this bench's table in docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import re
import statistics
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import trafilatura

import extraction  # bench/extraction.py: the WARC packing, the ingest and the article metric

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WCXB = ROOT.parent / "shared" / "dev-data" / "wcxb-dev"
BENCHMARKS_PAGE = ROOT / "docs" / "benchmarks.md"
_WORD = re.compile(r"\w+")


def bow_scores(gold: str, predicted: str) -> tuple[float, float, float]:
    """The benchmark's per-page precision, recall and F1 over bags of lower-cased words."""
    true, pred = Counter(_WORD.findall(gold.lower())), Counter(_WORD.findall(predicted.lower()))
    shared, n_pred, n_true = sum((true & pred).values()), sum(pred.values()), sum(true.values())
    precision = shared / n_pred if n_pred else (1.0 if not n_true else 0.0)
    recall = shared / n_true if n_true else 1.0
    return precision, recall, (2 * precision * recall / (precision + recall) if precision + recall else 0.0)


def load_wcxb(data: Path) -> list[dict]:
    pages = [json.loads(line) for line in gzip.open(data / "manifest.jsonl.gz", "rt", encoding="utf-8")]
    for page in pages:
        page["html_bytes"] = gzip.decompress((data / page["html"]).read_bytes())
        page["url"] = page["url"] or f"https://wcxb.invalid/{page['id']}"  # a few pages have none
    return pages


def _bare(html: bytes) -> str:
    return trafilatura.extract(html, include_comments=False) or ""


def run_bare(pages: list[dict], workers: int) -> tuple[list[str], float]:
    started = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        texts = list(pool.map(_bare, [page["html_bytes"] for page in pages], chunksize=8))
    return texts, time.perf_counter() - started


def _snippets(texts: list[str], pages: list[dict], key: str) -> tuple[int, int]:
    """(snippets found in the texts, snippets in all)."""
    found = total = 0
    for text, page in zip(texts, pages):
        lowered = text.lower()
        found += sum(snippet.lower() in lowered for snippet in page[key])
        total += len(page[key])
    return found, total


def type_table(pages: list[dict], ours: list[str], bare: list[str]) -> list[str]:
    by_type: dict[str, list[tuple]] = defaultdict(list)
    for page, mine, theirs in zip(pages, ours, bare):
        scores = (bow_scores(page["gold_text"], mine), bow_scores(page["gold_text"], theirs))
        by_type[page["page_type"]].append(scores)
        by_type["all"].append(scores)
    lines = [f"{'page type':<15}{'pages':>6} | {'docmill P':>9}{'R':>7}{'F1':>7} | {'trafilatura P':>13}{'R':>7}{'F1':>7}"
             f" | {'F1 diff':>7}"]
    for kind in sorted(by_type, key=lambda k: (k == "all", k)):
        rows = by_type[kind]
        mean = lambda side, i: statistics.fmean(row[side][i] for row in rows)  # noqa: E731
        lines.append(f"{kind:<15}{len(rows):>6} | {mean(0, 0):>9.3f}{mean(0, 1):>7.3f}{mean(0, 2):>7.3f} | "
                     f"{mean(1, 0):>13.3f}{mean(1, 1):>7.3f}{mean(1, 2):>7.3f} | {mean(0, 2) - mean(1, 2):>+7.3f}")
    return lines


def worst_pages(pages: list[dict], ours: list[str], bare: list[str], count: int) -> list[str]:
    gaps = []
    for page, mine, theirs in zip(pages, ours, bare):
        f_ours, f_bare = bow_scores(page["gold_text"], mine)[2], bow_scores(page["gold_text"], theirs)[2]
        gaps.append((f_ours - f_bare, page, f_ours, f_bare, len(mine), len(theirs)))
    gaps.sort(key=lambda gap: gap[0])
    lines = [f"{'F1 diff':>7} {'docmill':>7} {'bare':>6} {'chars':>7} {'bare':>7}  page"]
    for diff, page, f_ours, f_bare, n_ours, n_bare in gaps[:count]:
        if diff >= 0:
            break
        lines.append(f"{diff:>+7.3f} {f_ours:>7.3f} {f_bare:>6.3f} {n_ours:>7} {n_bare:>7}  {page['id']} "
                     f"{page['page_type']} {page['url'][:70]}")
    return lines


def write_page(table: list[str], command: str) -> None:
    """Replace this bench's section of docs/benchmarks.md with the table just printed."""
    heading = "## Extraction per kind of page (bench/page_kinds.py)"
    section = "\n".join([heading, "", f"`{command}`, {datetime.date.today()}, {os.cpu_count()} cores", "",
                         "```", *table, "```", ""])
    old = BENCHMARKS_PAGE.read_text(encoding="utf-8") if BENCHMARKS_PAGE.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    new = pattern.sub(lambda _: section + "\n", old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + section
    BENCHMARKS_PAGE.parent.mkdir(exist_ok=True)
    BENCHMARKS_PAGE.write_text(new, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wcxb", type=Path, default=DEFAULT_WCXB)
    parser.add_argument("--articles", type=Path, default=extraction.DEFAULT_DATA)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--worst", type=int, default=15, help="list this many pages where docmill trails most")
    parser.add_argument("--write", action="store_true", help="replace this bench's table in docs/benchmarks.md")
    args = parser.parse_args()

    pages = load_wcxb(args.wcxb)
    by_url, docmill_seconds, loaded, _ = extraction.run_docmill(pages, 1, args.workers)
    ours = [by_url.get(page["url"], "") for page in pages]
    bare, bare_seconds = run_bare(pages, args.workers)

    articles = extraction.load_pages(args.articles)
    article_urls, article_seconds, _, _ = extraction.run_docmill(articles, 1, args.workers)
    article_bare, article_bare_seconds = extraction.run_bare(articles, 1, args.workers)
    golds = [page["gold_text"] for page in articles]
    article_ours = extraction.score(golds, [article_urls.get(page["url"], "") for page in articles])
    article_theirs = extraction.score(golds, article_bare)

    table = [f"wcxb-dev: {len(pages)} pages, {loaded} loaded, {args.workers} processes; bag-of-words metric", "",
             *type_table(pages, ours, bare), ""]
    for key, label in (("must_contain", "must-contain snippets kept"), ("must_not_contain", "must-not-contain snippets kept")):
        (mine, total), (theirs, _) = _snippets(ours, pages, key), _snippets(bare, pages, key)
        table.append(f"{label:<32} docmill {mine:>5} / {total}   trafilatura {theirs:>5} / {total}")
    table += [f"{'pages/s':<32} docmill {len(pages) / docmill_seconds:>7.1f}   trafilatura {len(pages) / bare_seconds:>7.1f}"
              f"   ratio {bare_seconds / docmill_seconds:.2f}  (docmill: extraction through the DuckDB load, inside the flow)",
              "", f"article-extraction-benchmark: {len(articles)} pages; 4-word shingle metric", "",
              f"{'':<22}{'precision':>10}{'recall':>10}{'F1':>10}{'pages/s':>10}"]
    for name, metrics, seconds in (("docmill ingest", article_ours, article_seconds),
                                   ("trafilatura.extract", article_theirs, article_bare_seconds)):
        table.append(f"{name:<22}{metrics['precision']:>10.4f}{metrics['recall']:>10.4f}{metrics['f1']:>10.4f}"
                     f"{len(articles) / seconds:>10.1f}")
    print("\n".join(table))
    print(f"\npages where docmill trails bare trafilatura most (wcxb-dev):\n" + "\n".join(worst_pages(pages, ours, bare, args.worst)))
    if args.write:
        write_page(table, "python bench/page_kinds.py --write")


if __name__ == "__main__":
    main()
