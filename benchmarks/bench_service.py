"""Load benchmark of the HTTP service: ``POST /similarity`` with real JPEGs on loopback.

The server runs in its own process (this script with ``--serve``): the bundled image model with
its embedding cache off (the JPEGs repeat) over an in-memory FAISS HNSW collection of
``--vectors`` SYNTHETIC 1280-d unit vectors (random, labelled as such: they set the index's size
and search cost, not retrieval quality). The client (this process) sends the JPEGs of
tests/data (the CC0 photos and the public-domain clipart) with 1 and with 4 concurrent clients,
for a bounded count and time each, and reports:

* latency p50/p95/p99 and requests/s per concurrency;
* the per-stage split from the service's ``Server-Timing`` header (read body, embed, search,
  serialise), with ``embed`` split into decode + preprocess and inference by timing the
  embedder's own two steps on the same JPEGs in the same run;
* the raw model alone in the same run: ``embed([jpeg])`` back to back (decode, preprocess,
  inference; batch 1, what one request needs), measured before and after the HTTP series;
* the same store served a second time with ``max_batch = 1`` (each request its own model call),
  alternated with the batching server in rounds, to show what batching concurrent requests buys.

Targets (issue 11): p95 <= 20 ms with one client; 4-client throughput >= 0.8x the raw model's.

    python benchmarks/bench_service.py                     # 100k vectors
    python benchmarks/bench_service.py --vectors 2000 --requests 60 --budget-s 5   # a smoke run
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import harness
import httpx
import numpy as np
import numpy.typing as npt
from harness import fmt_ms, print_table

import edgevec
from edgevec.embedders import OnnxImageEmbedder, image_embedder
from edgevec.embedders.images import check_image

KEY = "bench-key"
COLLECTION = "bench"
STAGES = ("read", "embed", "search", "serialise")
TARGET_P95_MS = 20.0
TARGET_THROUGHPUT = 0.8
ROUNDS = 4
"""Each concurrency's requests are sent in this many rounds, alternating the two servers."""
DATA = harness.ROOT / "tests" / "data"
F64 = npt.NDArray[np.float64]


def jpegs() -> list[bytes]:
    """Every JPEG shipped in tests/data (photos and clipart), in a fixed order."""
    return [p.read_bytes() for p in sorted(DATA.rglob("*.jpg"))]


# -- the server process -------------------------------------------------------------------------


def serve(port: int, vectors: int, threads: int | None) -> None:
    """Fill an in-memory FAISS HNSW collection with synthetic vectors and serve it twice: on
    ``port`` as configured (batching concurrent requests), on ``port + 1`` with ``max_batch = 1``
    (every request its own model call), so the two are compared in one run on one store."""
    import asyncio

    import uvicorn
    from prometheus_client import CollectorRegistry

    from edgevec.server import ServiceSettings, create_app

    embedder = image_embedder(cache=False, threads=threads)
    store = edgevec.connect("faiss")
    coll = store.create_collection(
        COLLECTION, embedder=embedder, index="hnsw", hnsw_m=16, ef_construction=64, ef_search=64
    )
    rng = np.random.default_rng(0)
    for start in range(0, vectors, 10_000):
        n = min(10_000, vectors - start)
        block = rng.standard_normal((n, embedder.dim), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        ids = [f"synthetic-{i}" for i in range(start, start + n)]
        coll.upsert_arrays(ids, block, [{"i": i} for i in range(start, start + n)])
    servers = []
    for offset, max_batch in enumerate((None, 1)):
        table: dict[str, Any] = {"collection": COLLECTION, "api_keys": [KEY]}
        if max_batch is not None:
            table["max_batch"] = max_batch
        app = create_app(
            store, ServiceSettings.model_validate(table), embedder=embedder,
            registry=CollectorRegistry(),
        )  # fmt: skip
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port + offset, log_level="warning", access_log=False
        )
        servers.append(uvicorn.Server(config))

    async def both() -> None:
        await asyncio.gather(*(server.serve() for server in servers))

    asyncio.run(both())


def start_server(port: int, vectors: int, threads: int | None) -> subprocess.Popen[bytes]:
    args = [sys.executable, __file__, "--serve", "--port", str(port), "--vectors", str(vectors)]
    if threads is not None:
        args += ["--threads", str(threads)]
    proc = subprocess.Popen(args)  # noqa: S603  (this script, with its own arguments)
    deadline = time.monotonic() + 1800
    for ready_port in (port, port + 1):
        while True:
            try:
                url = f"http://127.0.0.1:{ready_port}/readyz"
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.5)
    return proc


# -- the client ---------------------------------------------------------------------------------


def timing(header: str) -> dict[str, float]:
    """``Server-Timing`` -> {stage: ms}."""
    out = {}
    for part in header.split(","):
        name, _, dur = part.strip().partition(";dur=")
        out[name] = float(dur)
    return out


@dataclass
class Samples:
    """What one series of requests measured."""

    clients: int
    latencies_ms: list[float] = field(default_factory=list)
    stages_ms: list[dict[str, float]] = field(default_factory=list)
    wall_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        lat = np.asarray(self.latencies_ms)
        p50, p95, p99 = np.percentile(lat, [50, 95, 99])
        return {
            "clients": self.clients,
            "requests": len(lat),
            "rps": len(lat) / self.wall_s,
            "p50_ms": float(p50),
            "p95_ms": float(p95),
            "p99_ms": float(p99),
            "stages_p50_ms": {s: float(np.median([t[s] for t in self.stages_ms])) for s in STAGES},
        }


def load(url: str, images: Sequence[bytes], into: Samples, requests: int, budget_s: float) -> None:
    """``into.clients`` threads sending ``/similarity`` requests until ``requests`` were sent in
    all or ``budget_s`` passed; every latency and the server's stage times go ``into``."""
    lock = threading.Lock()
    sent = 0
    stop_at = time.monotonic() + budget_s
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "image/jpeg"}
    clients = into.clients

    def worker(offset: int) -> None:
        nonlocal sent
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            i = offset
            while True:
                with lock:
                    if sent >= requests or time.monotonic() > stop_at:
                        return
                    sent += 1
                t0 = time.perf_counter()
                response = client.post("/similarity", content=images[i % len(images)])
                elapsed = (time.perf_counter() - t0) * 1e3
                response.raise_for_status()
                with lock:
                    into.latencies_ms.append(elapsed)
                    into.stages_ms.append(timing(response.headers["server-timing"]))
                i += clients

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    into.wall_s += time.perf_counter() - start


def raw_model(emb: OnnxImageEmbedder, images: Sequence[bytes], budget_s: float) -> dict[str, Any]:
    """The model alone, batch 1 back to back: end to end (``embed``), and its two steps."""
    whole, decode, infer = [], [], []
    stop_at = time.monotonic() + budget_s
    i = 0
    while time.monotonic() < stop_at or i < 20:
        data = images[i % len(images)]
        t0 = time.perf_counter()
        emb.embed([data])
        t1 = time.perf_counter()
        tensor = emb.preprocess([(0, check_image(data, 0, emb.limits))])
        t2 = time.perf_counter()
        emb.run_tensor(tensor)
        t3 = time.perf_counter()
        whole.append(t1 - t0)
        decode.append(t2 - t1)
        infer.append(t3 - t2)
        i += 1
    return {
        "images": i,
        "images_per_s": i / sum(whole),
        "embed_p50_ms": float(np.median(whole)) * 1e3,
        "decode_preprocess_p50_ms": float(np.median(decode)) * 1e3,
        "inference_p50_ms": float(np.median(infer)) * 1e3,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=400, help="per series (a bound)")
    parser.add_argument("--budget-s", type=float, default=30.0, help="per series (a bound)")
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime threads")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.port, args.vectors, args.threads)
        return

    images = jpegs()
    t0 = time.perf_counter()
    server = start_server(args.port, args.vectors, args.threads)
    built_s = time.perf_counter() - t0
    urls = {
        "batched": f"http://127.0.0.1:{args.port}",
        "max_batch 1": f"http://127.0.0.1:{args.port + 1}",
    }
    series = {(v, c): Samples(c) for c in (1, 4) for v in urls}
    try:
        emb = image_embedder(cache=False, threads=args.threads)
        for url in urls.values():  # warm the client and the servers' threads
            load(url, images, Samples(1), 10, args.budget_s)
        raw_before = raw_model(emb, images, args.budget_s / 2)
        for clients in (1, 4):  # the two servers alternate in rounds: drift hits both alike
            variants = list(urls)
            for r in range(ROUNDS):
                for variant in variants[r % 2 :] + variants[: r % 2]:
                    load(
                        urls[variant], images, series[variant, clients],
                        args.requests // ROUNDS, args.budget_s / ROUNDS,
                    )  # fmt: skip
        raw_after = raw_model(emb, images, args.budget_s / 2)
    finally:
        server.terminate()
        server.wait()
    raw_rate = (raw_before["images_per_s"] + raw_after["images_per_s"]) / 2
    summaries = {
        f"{v}, {c} client(s)": s.summary() | {"variant": v} for (v, c), s in series.items()
    }

    info = harness.hardware()
    load_avg = info["load_avg_1_5_15"]
    print(f"Hardware: {info['cpu']}, {info['usable_cpus']} usable CPUs, load {load_avg}")
    print(
        f"Collection: {args.vectors} SYNTHETIC random 1280-d unit vectors, FAISS HNSW (M 16, "
        f"efSearch 64), in memory; built and warmed in {built_s:.0f} s. "
        f"{len(images)} real JPEGs from tests/data.\n"
    )
    print_table(
        "POST /similarity on loopback",
        ["server", "clients", "requests", "req/s", "p50", "p95", "p99", "vs raw model"],
        [
            [
                s["variant"], s["clients"], s["requests"], f"{s['rps']:.1f}", fmt_ms(s["p50_ms"]),
                fmt_ms(s["p95_ms"]), fmt_ms(s["p99_ms"]), f"{s['rps'] / raw_rate:.2f}x",
            ]
            for s in summaries.values()
        ],
    )  # fmt: skip
    one = summaries["batched, 1 client(s)"]
    four = summaries["batched, 4 client(s)"]
    print(
        f"Targets: p95 with one client {fmt_ms(one['p95_ms'])} (<= {TARGET_P95_MS:g} ms: "
        f"{'meets' if one['p95_ms'] <= TARGET_P95_MS else 'misses'}); 4-client throughput "
        f"{four['rps'] / raw_rate:.2f}x the raw model's (>= {TARGET_THROUGHPUT}x: "
        f"{'meets' if four['rps'] / raw_rate >= TARGET_THROUGHPUT else 'misses'}).\n"
    )
    print_table(
        "Where a request's time goes (p50 of each stage, from Server-Timing)",
        ["server", "clients", *STAGES, "client + HTTP (p50 latency - stages)"],
        [
            [
                s["variant"], s["clients"], *(fmt_ms(s["stages_p50_ms"][st]) for st in STAGES),
                fmt_ms(s["p50_ms"] - sum(s["stages_p50_ms"].values())),
            ]
            for s in summaries.values()
        ],
    )  # fmt: skip
    print_table(
        "The raw model alone, batch 1 (same JPEGs, same run)",
        ["when", "images/s", "embed p50", "decode + preprocess p50", "inference p50"],
        [
            [
                name, f"{r['images_per_s']:.1f}", fmt_ms(r["embed_p50_ms"]),
                fmt_ms(r["decode_preprocess_p50_ms"]), fmt_ms(r["inference_p50_ms"]),
            ]
            for name, r in (("before", raw_before), ("after", raw_after))
        ],
    )  # fmt: skip
    path = harness.write_results(
        "service",
        {
            "args": vars(args),
            "hardware": info,
            "synthetic_vectors": args.vectors,
            "series": summaries,
            "raw_model": {"before": raw_before, "after": raw_after, "images_per_s": raw_rate},
        },
    )
    print(f"Results: {Path(path).relative_to(harness.ROOT)}; ORT threads: "
          f"{args.threads or os.cpu_count()}")  # fmt: skip


if __name__ == "__main__":
    main()
