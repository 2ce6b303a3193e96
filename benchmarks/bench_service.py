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
  inference; batch 1, as the service runs it), measured before and after the HTTP series.

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
from pathlib import Path
from typing import Any

import harness
import httpx
import numpy as np
import numpy.typing as npt
from harness import fmt_ms, fmt_ratio, print_table

import edgevec
from edgevec.embedders import OnnxImageEmbedder, image_embedder
from edgevec.embedders.images import check_image

KEY = "bench-key"
COLLECTION = "bench"
STAGES = ("read", "embed", "search", "serialise")
TARGET_P95_MS = 20.0
TARGET_THROUGHPUT = 0.8
DATA = harness.ROOT / "tests" / "data"
F64 = npt.NDArray[np.float64]


def jpegs() -> list[bytes]:
    """Every JPEG shipped in tests/data (photos and clipart), in a fixed order."""
    return [p.read_bytes() for p in sorted(DATA.rglob("*.jpg"))]


# -- the server process -------------------------------------------------------------------------


def serve(port: int, vectors: int, threads: int | None) -> None:
    """Fill an in-memory FAISS HNSW collection with synthetic vectors and serve it."""
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
    settings = ServiceSettings.model_validate({"collection": COLLECTION, "api_keys": [KEY]})
    app = create_app(store, settings, embedder=embedder, registry=CollectorRegistry())
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def start_server(port: int, vectors: int, threads: int | None) -> subprocess.Popen[bytes]:
    args = [sys.executable, __file__, "--serve", "--port", str(port), "--vectors", str(vectors)]
    if threads is not None:
        args += ["--threads", str(threads)]
    proc = subprocess.Popen(args)  # noqa: S603  (this script, with its own arguments)
    deadline = time.monotonic() + 1800
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the server did not start")
        time.sleep(0.5)


# -- the client ---------------------------------------------------------------------------------


def timing(header: str) -> dict[str, float]:
    """``Server-Timing`` -> {stage: ms}."""
    out = {}
    for part in header.split(","):
        name, _, dur = part.strip().partition(";dur=")
        out[name] = float(dur)
    return out


def load(
    url: str, images: Sequence[bytes], clients: int, requests: int, budget_s: float
) -> dict[str, Any]:
    """``clients`` threads each sending ``/similarity`` requests until ``requests`` were sent in
    all or ``budget_s`` passed; latencies and the server's stage times of every request."""
    lock = threading.Lock()
    sent = 0
    latencies: list[float] = []
    stages: list[dict[str, float]] = []
    stop_at = time.monotonic() + budget_s
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "image/jpeg"}

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
                    latencies.append(elapsed)
                    stages.append(timing(response.headers["server-timing"]))
                i += clients

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    wall = time.perf_counter() - start
    lat = np.asarray(latencies)
    p50, p95, p99 = np.percentile(lat, [50, 95, 99])
    return {
        "clients": clients,
        "requests": len(lat),
        "rps": len(lat) / wall,
        "p50_ms": float(p50),
        "p95_ms": float(p95),
        "p99_ms": float(p99),
        "stages_p50_ms": {s: float(np.median([t[s] for t in stages])) for s in STAGES},
    }


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
    parser.add_argument("--requests", type=int, default=400, help="per series (bound)")
    parser.add_argument("--budget-s", type=float, default=30.0, help="per series (bound)")
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
    url = f"http://127.0.0.1:{args.port}"
    try:
        emb = image_embedder(cache=False, threads=args.threads)
        load(url, images, 1, 20, args.budget_s)  # warm the client and the server's threads
        raw_before = raw_model(emb, images, args.budget_s / 2)
        series = [load(url, images, c, args.requests, args.budget_s) for c in (1, 4)]
        raw_after = raw_model(emb, images, args.budget_s / 2)
    finally:
        server.terminate()
        server.wait()
    raw_rate = (raw_before["images_per_s"] + raw_after["images_per_s"]) / 2

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
        ["clients", "requests", "req/s", "p50", "p95", "p99", "vs raw model", "p95 target"],
        [
            [
                s["clients"], s["requests"], f"{s['rps']:.1f}", fmt_ms(s["p50_ms"]),
                fmt_ms(s["p95_ms"]), fmt_ms(s["p99_ms"]),
                fmt_ratio(s["rps"] / raw_rate) if s["clients"] == 1 else
                f"{s['rps'] / raw_rate:.2f}x (target >= {TARGET_THROUGHPUT}x: "
                f"{'meets' if s['rps'] / raw_rate >= TARGET_THROUGHPUT else 'misses'})",
                (f"<= {TARGET_P95_MS:g} ms: "
                 f"{'meets' if s['p95_ms'] <= TARGET_P95_MS else 'misses'}")
                if s["clients"] == 1 else "",
            ]
            for s in series
        ],
    )  # fmt: skip
    print_table(
        "Where a request's time goes (p50 of each stage, from Server-Timing)",
        ["clients", *STAGES, "client + HTTP (p50 latency - stages)"],
        [
            [
                s["clients"], *(fmt_ms(s["stages_p50_ms"][st]) for st in STAGES),
                fmt_ms(s["p50_ms"] - sum(s["stages_p50_ms"].values())),
            ]
            for s in series
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
            "series": series,
            "raw_model": {"before": raw_before, "after": raw_after, "images_per_s": raw_rate},
        },
    )
    print(f"Results: {Path(path).relative_to(harness.ROOT)}; ORT threads: "
          f"{args.threads or os.cpu_count()}")  # fmt: skip


if __name__ == "__main__":
    main()
