#!/usr/bin/python3
"""gzip (zlib) against brotli (libbrotli) on the answers the JSON/HTTP API really sends: a page of
20 articles, one article, the RSS feed, the iCalendar feed and Open311 requests from the embedded
demo. For each: the bytes on the wire and the CPU time per compression, at the levels a server
would use for answers made on the fly (and kept by the rendered cache).

    tests/bench/compression.py [BUILD_DIR]      (needs Debian's python3-brotli)

Prints one Markdown table; docs/performance.md ("Compression") has the published run.
"""
import os
import sys
import time
import urllib.request
import zlib

import brotli

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from demo_gateway import DemoGateway  # noqa: E402

build = os.path.realpath(sys.argv[1] if len(sys.argv) > 1 else "build")
gw = DemoGateway(f"{build}/bin/civitas-gateway", f"{build}/bin/civitasctl")
try:
    def get(path):
        with urllib.request.urlopen(gw.base + path) as r:
            return r.read()

    import json
    first = json.loads(get("/cities/demo/v1/articles?page_size=1"))["articles"][0]["name"]
    bodies = [
        ("ListArticles, 20 (JSON)", get("/cities/demo/v1/articles?page_size=20")),
        ("GetArticle (JSON)", get(f"/cities/demo/v1/{first}")),
        ("RSS feed", get("/cities/demo/v1/feed")),
        ("iCalendar feed", get("/cities/demo/v1/calendar.ics")),
        ("Open311 requests (JSON)", get("/cities/demo/open311/v2/requests.json?jurisdiction_id=demo")),
    ]
finally:
    gw.stop()

coders = [
    ("gzip 1", lambda b: zlib.compress(b, 1)),
    ("gzip 5 (used)", lambda b: zlib.compress(b, 5)),
    ("gzip 9", lambda b: zlib.compress(b, 9)),
    ("brotli 1", lambda b: brotli.compress(b, quality=1)),
    ("brotli 4", lambda b: brotli.compress(b, quality=4)),
    ("brotli 5", lambda b: brotli.compress(b, quality=5)),
    ("brotli 11", lambda b: brotli.compress(b, quality=11)),
]


def cpu_us(fn, body):
    """Median CPU time of one compression, microseconds (at least 0.3 s of repetitions)."""
    runs = []
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline or len(runs) < 5:
        start = time.process_time_ns()
        for _ in range(10):
            fn(body)
        runs.append((time.process_time_ns() - start) / 10 / 1000)
    runs.sort()
    return runs[len(runs) // 2]


print("| answer | bytes | " + " | ".join(name for name, _ in coders) + " |")
print("|---|---:|" + "---:|" * len(coders))
for label, body in bodies:
    cells = []
    for name, fn in coders:
        size = len(fn(body))
        cells.append(f"{size:,} B, {cpu_us(fn, body):.0f} µs")
    print(f"| {label} | {len(body):,} | " + " | ".join(cells) + " |")
