"""Extraction quality and speed on the article-extraction-benchmark pages.

Packs the benchmark's pages into a WARC (one HTML response per page, at its real URL),
ingests it with `docmill ingest` exactly as a user would (trafilatura, markup and text
boilerplate rules, language, dedup, DuckDB load), reads each page's final text back from
DuckDB, and scores it against the human-written gold text. Bare `trafilatura.extract`
(as the benchmark runs it: include_comments=False) is scored and timed on the same pages
with the same number of processes. With --trials N, docmill and bare trafilatura are timed
N times, in turn (every other trial starts with bare trafilatura), and the medians are
printed, the ratio as the median of the trials' ratios: the machine's speed drifts by
several percent within minutes, so one pair of runs decides little.

Metric (the benchmark's): 4-token shingles of \\w+ tokens as multisets; per page tp/fp/fn
normalised to sum 1; precision and recall averaged over pages; F1 of the two averages.

    .venv/bin/python bench/extraction.py [--data ../shared/dev-data/article-extraction-benchmark] [--repeat 3]
                                         [--trials 3] [--memory-check [--memory-scales 3 10 30]]
"""
from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import trafilatura
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "dev-data" / "article-extraction-benchmark"
_TOKEN = re.compile(r"\w+")


def shingles(text: str, n: int = 4) -> Counter:
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i : i + n])


def tp_fp_fn(gold: str, predicted: str) -> tuple[float, float, float]:
    true, pred = shingles(gold), shingles(predicted)
    tp = sum((true & pred).values())
    fp, fn = sum((pred - true).values()), sum((true - pred).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def _precision(tp: float, fp: float, fn: float) -> float:
    return 1.0 if fp == fn == 0 else 0.0 if tp == fp == 0 else tp / (tp + fp)


def _recall(tp: float, fp: float, fn: float) -> float:
    return 1.0 if fp == fn == 0 else 0.0 if tp == fn == 0 else tp / (tp + fn)


def score(golds: list[str], predictions: list[str]) -> dict[str, float]:
    counts = [tp_fp_fn(g, p) for g, p in zip(golds, predictions)]
    precision = statistics.mean(_precision(*c) for c in counts if c[0] + c[1] > 0)
    recall = statistics.mean(_recall(*c) for c in counts if c[0] + c[2] > 0)
    return {"precision": precision, "recall": recall, "f1": 2 * precision * recall / (precision + recall)}


def load_pages(data: Path) -> list[dict]:
    pages = [json.loads(line) for line in (data / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    for page in pages:
        page["html_text"] = gzip.decompress((data / page["html"]).read_bytes()).decode("utf-8")
    return pages


def write_warc(pages: list[dict], path: Path, repeat: int) -> None:
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True)
        for copy in range(repeat):
            for page in pages:
                url = page["url"] if copy == 0 else f"{page['url']}#copy{copy}"
                # raw bytes (wcxb-dev) carry their own charset declaration, if any
                content_type = "text/html" if "html_bytes" in page else "text/html; charset=utf-8"
                headers = StatusAndHeaders("200 OK", [("Content-Type", content_type)], protocol="HTTP/1.1")
                payload = page["html_bytes"] if "html_bytes" in page else page["html_text"].encode("utf-8")
                record = writer.create_warc_record(url, "response", payload=io.BytesIO(payload), http_headers=headers)
                writer.write_record(record)


def _bare(html: str) -> str:
    return trafilatura.extract(html, include_comments=False) or ""


_SAMPLE_SECONDS = 0.1


@dataclass
class Memory:
    """An ingest's peak RSS (its largest process) and the shape of the flow process's RSS over
    its life: the highest sample in each tenth, in MiB (none for a run too short to sample)."""

    peak: float
    tenths: list[float]

    def describe(self) -> str:
        shape = " ".join(f"{t:.0f}" for t in self.tenths) or "not sampled"
        return f"{self.peak:.0f} MiB; the flow's process, highest in each tenth of its life: {shape}"


def _rss_mib(pid: int) -> float | None:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, IndexError, ValueError):
        return None


def _tenths(samples: list[float]) -> list[float]:
    n = len(samples)
    return [max(samples[i * n // 10:(i + 1) * n // 10]) for i in range(10)] if n >= 10 else []


def _watch(pid: int) -> tuple[list[float], int, resource.struct_rusage]:
    """The process's RSS every 0.1 s until it exits; then its wait status and resource usage.
    The usage's ru_maxrss is the peak of its largest process, itself or a descendant it waited
    for (Linux), so that each ingest is measured on its own."""
    samples = []
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return samples, status, usage
        if rss := _rss_mib(pid):
            samples.append(rss)
        time.sleep(_SAMPLE_SECONDS)


def ingest(warc: Path, db: Path, workers: int, *extra: str) -> Memory:
    """Run `docmill ingest` as a user would; its memory."""
    command = [sys.executable, "-m", "flows.cli", "ingest", str(warc), "--db", str(db), "--workers", str(workers), *extra]
    with tempfile.TemporaryFile("w+") as log:  # a file, not a pipe: Prefect's logging would fill a pipe
        # A session of its own, so that an interrupted bench stops the ingest's processes too.
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
        try:
            samples, status, usage = _watch(process.pid)
        except BaseException:
            os.killpg(process.pid, signal.SIGKILL)
            raise
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped by _watch, not by Popen
        if process.returncode:
            log.seek(0)
            raise RuntimeError(f"docmill ingest failed ({process.returncode}):\n{log.read()[-4000:]}")
    return Memory(usage.ru_maxrss / 1024, _tenths(samples))


@contextmanager
def ingested(pages: list[dict], repeat: int, workers: int, *extra: str) -> Iterator[tuple[Path, Memory]]:
    """The pages, ``repeat`` times over, ingested into a temporary database: its path and the
    ingest's memory."""
    with tempfile.TemporaryDirectory(prefix="docmill-extraction-") as tmp:
        warc, db = Path(tmp) / "pages.warc.gz", Path(tmp) / "bench.duckdb"
        write_warc(pages, warc, repeat)
        yield db, ingest(warc, db, workers, *extra)


def run_docmill(pages: list[dict], repeat: int, workers: int, *extra: str) -> tuple[dict[str, str], float, int, Memory]:
    with ingested(pages, repeat, workers, *extra) as (db, memory):
        query = [sys.executable, "-m", "flows.cli", "query", "--db", str(db), "--format", "json"]
        runs = subprocess.run([*query, "SELECT epoch(finished_at - started_at) AS s, documents_new AS n FROM runs"],
                              cwd=ROOT, check=True, capture_output=True, text=True).stdout
        run = json.loads(runs)
        texts = subprocess.run([*query, "SELECT url, text FROM documents"], cwd=ROOT, check=True,
                               capture_output=True, text=True).stdout
        by_url = {row["url"]: row["text"] for row in map(json.loads, texts.splitlines())}
    return by_url, run["s"], run["n"], memory


def run_bare(pages: list[dict], repeat: int, workers: int) -> tuple[list[str], float]:
    started = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        texts = list(pool.map(_bare, [page["html_text"] for page in pages] * repeat, chunksize=8))
    return texts, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=1, help="ingest the pages this many times over, for timing")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--trials", type=int, default=1,
                        help="time docmill and bare trafilatura this many times, alternately; print the medians")
    parser.add_argument("--memory-check", action="store_true",
                        help="also ingest larger WARCs (see --memory-scales) and print each run's peak RSS and its shape")
    parser.add_argument("--memory-scales", type=int, nargs="+", default=[3, 10], metavar="N",
                        help="how many times larger the --memory-check WARCs are (default: 3 10)")
    args = parser.parse_args()

    pages = load_pages(args.data)
    golds = [page["gold_text"] for page in pages]

    n = len(pages) * args.repeat
    speeds: list[tuple[float, float]] = []  # (docmill, bare trafilatura) pages/s, one pair per trial
    memories: list[Memory] = []
    for trial in range(max(1, args.trials)):
        if trial % 2:  # every other trial times bare trafilatura first, so that order cancels out
            bare, bare_seconds = run_bare(pages, args.repeat, args.workers)
        by_url, docmill_seconds, loaded, memory = run_docmill(pages, args.repeat, args.workers)
        if not trial % 2:
            bare, bare_seconds = run_bare(pages, args.repeat, args.workers)
        speeds.append((n / docmill_seconds, n / bare_seconds))
        memories.append(memory)
    ours = [by_url.get(page["url"], "") for page in pages]

    # The benchmark's gold text keeps embedded tweets, which docmill removes on purpose;
    # a second ingest without that rule shows what the rest of the pipeline does.
    by_url_tweets, tweets_seconds, _, _ = run_docmill(pages, args.repeat, args.workers, "--disable-rule", "social_embed")
    with_tweets = [by_url_tweets.get(page["url"], "") for page in pages]

    docmill_speed = statistics.median(ours for ours, _ in speeds)
    bare_speed = statistics.median(theirs for _, theirs in speeds)
    rows = [("docmill ingest", score(golds, ours), docmill_speed),
            ("  without social_embed", score(golds, with_tweets), n / tweets_seconds),
            ("trafilatura.extract", score(golds, bare[: len(pages)]), bare_speed)]
    print(f"{len(pages)} pages x{args.repeat}, {args.workers} processes, {loaded} documents loaded\n")
    print(f"{'':<24}{'precision':>10}{'recall':>10}{'F1':>10}{'pages/s':>10}")
    for name, metrics, speed in rows:
        print(f"{name:<24}{metrics['precision']:>10.4f}{metrics['recall']:>10.4f}{metrics['f1']:>10.4f}{speed:>10.1f}")
    ratio = statistics.median(ours / theirs for ours, theirs in speeds)
    print(f"\nspeed ratio docmill / trafilatura: {ratio:.2f}  "
          "(docmill: extraction through the DuckDB load, timed inside the flow run)")
    if len(speeds) > 1:
        print(f"  medians of {len(speeds)} trials, in alternating order; per trial (docmill, trafilatura pages/s, ratio): "
              + ", ".join(f"({d:.1f}, {b:.1f}, {d / b:.2f})" for d, b in speeds))
    print(f"peak RSS of the largest docmill process (WARC of {n} pages): {memories[0].describe()}")
    if len(memories) > 1:
        print(f"  later trials: {', '.join(f'{m.peak:.0f}' for m in memories[1:])} MiB")
    if args.memory_check:
        for times in args.memory_scales:
            with ingested(pages, times * args.repeat, args.workers) as (_, larger):
                print(f"peak RSS of the largest docmill process (WARC of {times * n} pages, {times}x): {larger.describe()}")


if __name__ == "__main__":
    main()
