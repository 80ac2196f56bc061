"""Forward geocoding on the seeded address base: addresses per second and the corpus's
precision and recall at the confidence threshold — the statements OneMap runs
(geo.address_text.parse, geo.queries.geocode), the corpus the tests use (seed.address_corpus).

    python -m bench.geocode.run [--url URL] [--count 2000] [--threads 1,2,4]

The corpus is written from the base (the district left out, full-width digits, typos, English
forms…). Each thread has its own connection and geocodes its share of the corpus in turn;
the first pass warms the caches and prepares the statements and is not counted. It prints the
rate per thread count, p50/p95 latency of one thread, and precision/recall per kind.
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import threading
import time
from typing import Any

import psycopg

from geo.address_text import parse
from geo.geocode_rank import Candidate
from geo.queries import fetch_sync
from geo.queries.geocode import geocode
from seed.address_corpus import Entry, corpus
from server.kernel.geocode_settings import GeocodeSettings


def _one(conn: psycopg.Connection[Any], text: str) -> list[Candidate]:
    return fetch_sync(conn, geocode(parse(text), 5))


def quality(url: str, entries: list[Entry], threshold: float) -> dict[str, Any]:
    kinds: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0])
    with psycopg.connect(url, autocommit=True) as conn:
        for e in entries:
            found = _one(conn, e.text)
            k = kinds[e.kind]
            k[0] += 1
            if found and found[0].confidence >= threshold:
                k[1] += 1
                k[2] += found[0].address_id == e.address_id
    total = sum(k[0] for k in kinds.values())
    accepted = sum(k[1] for k in kinds.values())
    correct = sum(k[2] for k in kinds.values())
    return {"total": total, "accepted": accepted, "correct": correct,
            "precision": correct / max(accepted, 1), "recall": correct / max(total, 1),
            "kinds": dict(kinds)}  # fmt: skip


def rate(url: str, texts: list[str], threads: int) -> tuple[float, list[float]]:
    """Addresses per second over ``threads`` connections, and one thread's latencies (ms)."""
    conns = [psycopg.connect(url, autocommit=True) for _ in range(threads)]
    shares = [texts[i::threads] for i in range(threads)]
    latencies: list[float] = []
    for conn, share in zip(conns, shares, strict=True):  # warm: prepare, cache
        for text in share[:50]:
            _one(conn, text)
    start = threading.Barrier(threads + 1)

    def work(conn: psycopg.Connection[Any], share: list[str], keep: bool) -> None:
        start.wait()
        for text in share:
            t0 = time.perf_counter()
            _one(conn, text)
            if keep:
                latencies.append((time.perf_counter() - t0) * 1000)

    workers = [threading.Thread(target=work, args=(c, s, i == 0))
               for i, (c, s) in enumerate(zip(conns, shares, strict=True))]  # fmt: skip
    for w in workers:
        w.start()
    start.wait()
    t0 = time.perf_counter()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - t0
    for conn in conns:
        conn.close()
    return len(texts) / elapsed, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=os.environ.get("ONEMAP_DATABASE_URL"))
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--threads", default="1,2,4")
    args = parser.parse_args()
    threshold = GeocodeSettings().min_confidence
    with psycopg.connect(args.url) as conn:
        entries = corpus(conn, args.count)
        row = conn.execute("SELECT count(*), (SELECT count(*) FROM address_roads) "
                           "FROM addresses").fetchone()  # fmt: skip
    assert row is not None
    print(f"address base: {row[0]} addresses on {row[1]} roads; corpus {len(entries)}")
    q = quality(args.url, entries, threshold)
    print(f"threshold {threshold}: accepted {q['accepted']}, correct {q['correct']}, "
          f"precision {q['precision']:.3f}, recall {q['recall']:.3f}")  # fmt: skip
    print("\n| kind | n | accepted | correct |\n|---|---|---|---|")
    for kind, (n, acc, ok) in q["kinds"].items():
        print(f"| {kind} | {n} | {acc} | {ok} |")
    texts = [e.text for e in entries]
    print("\n| threads | addresses/s | p50 ms (thread 1) | p95 ms |\n|---|---|---|---|")
    for threads in (int(t) for t in args.threads.split(",")):
        per_s, lat = rate(args.url, texts, threads)
        p95 = sorted(lat)[int(0.95 * len(lat))]
        print(f"| {threads} | {per_s:.0f} | {statistics.median(lat):.2f} | {p95:.2f} |")


if __name__ == "__main__":
    main()
