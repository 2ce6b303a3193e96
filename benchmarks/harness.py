"""Small benchmark harness: interleaved timing, percentiles, tables, hardware and import times.

Benchmarks compare edgevec with the raw engine *in one run* (DESIGN.md §8). On a shared VM the
machine's speed drifts by several percent within a minute, so contenders are timed interleaved,
call by call, with the order rotated each iteration: drift then lands on both sides alike and the
ratio stays meaningful even when the absolute figures move.

Importing this module puts the repository checkout first on ``sys.path``, so a benchmark measures
the working tree's ``edgevec`` (``python benchmarks/bench_faiss.py`` works without installing it).
"""

from __future__ import annotations

import gc
import importlib
import itertools
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "RESULTS_DIR",
    "ROOT",
    "Latency",
    "child_output",
    "fmt_ms",
    "fmt_ratio",
    "hardware",
    "import_breakdown",
    "import_times",
    "interleaved",
    "median",
    "paired_ratio",
    "print_table",
    "ratio",
    "verdict",
    "write_results",
]

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

NsSamples = npt.NDArray[np.int64]


# -- timing ---------------------------------------------------------------------------------


def interleaved(
    contenders: Mapping[str, Callable[[int], object]],
    n: int,
    *,
    warmup: int = 10,
    keep: bool = False,
    budget_s: float | None = None,
    min_calls: int = 20,
    clock: Callable[[], int] = time.perf_counter_ns,
) -> tuple[dict[str, NsSamples], dict[str, list[object]]]:
    """Time ``fn(i)`` for ``i in range(n)`` for every contender, interleaved call by call.

    Each iteration calls every contender once, cycling through all call orders, so cache
    warmth and clock drift are shared fairly. ``warmup`` untimed iterations (over the first
    inputs) run first. With ``budget_s``, iterations stop once that much wall time has passed
    (but never before ``min_calls``), so slow series stay affordable; the samples are then
    shorter than ``n``. Returns per-call nanoseconds and, with ``keep``, each call's return
    value (stored outside the timed region, so computing recall costs the timed code nothing).
    ``clock`` (nanoseconds; the budget is counted in it too) may be ``time.thread_time_ns``:
    this thread's CPU time, which leaves out the time other processes take the CPU away.
    """
    names = list(contenders)
    fns = [contenders[name] for name in names]
    for i in range(min(warmup, n)):
        for fn in fns:
            fn(i)
    samples = np.zeros((len(fns), n), dtype=np.int64)
    outputs: list[list[object]] = [[None] * n if keep else [] for _ in fns]
    deadline = None if budget_s is None else clock() + int(budget_s * 1e9)
    gc.collect()
    done = n
    # Cycle through every order of the contenders, so each one runs first, last and right
    # after each other one equally often (what ran just before a call affects its caches).
    orders = list(itertools.permutations(range(len(fns))))
    for i in range(n):
        for j in orders[i % len(orders)]:
            fn = fns[j]
            t0 = clock()
            out = fn(i)
            samples[j, i] = clock() - t0
            if keep:
                outputs[j][i] = out
        if deadline is not None and i + 1 >= min_calls and clock() > deadline:
            done = i + 1
            break
    return (
        {name: samples[j, :done] for j, name in enumerate(names)},
        {name: outputs[j][:done] for j, name in enumerate(names)} if keep else {},
    )


@dataclass(frozen=True)
class Latency:
    """Percentiles of a set of timings, in milliseconds."""

    p50_ms: float
    p99_ms: float
    mean_ms: float
    n: int

    @classmethod
    def of(cls, ns: NsSamples, per: int = 1) -> Latency:
        """Summarise nanosecond samples; ``per`` divides each (time per item of a batch)."""
        ms = ns.astype(np.float64) / 1e6 / per
        p50, p99 = np.percentile(ms, [50, 99])
        return cls(float(p50), float(p99), float(ms.mean()), len(ms))


def paired_ratio(a: NsSamples, b: NsSamples) -> float:
    """Median of the per-call ratios ``a[i] / b[i]`` of two interleaved series.

    Calls ``i`` of both series ran back to back on the same input, so the per-input cost and the
    machine's drift cancel in each ratio: steadier than the ratio of medians on a busy machine.
    """
    return float(np.median(a.astype(np.float64) / np.maximum(b, 1)))


def ratio(a: float, b: float) -> float:
    """``a / b``, or NaN when ``b`` is zero."""
    return a / b if b else float("nan")


def fmt_ms(ms: float) -> str:
    """Milliseconds with three significant digits, or microseconds when small."""
    if ms < 1:
        return f"{ms * 1000:.1f} µs"
    return f"{ms:.3g} ms" if ms < 100 else f"{ms:.0f} ms"


def verdict(r: float, target: float, noise: float = 0.0) -> str:
    """``meets`` (``r <= target``), ``within noise`` (``r <= target + noise``) or ``misses``."""
    if r <= target:
        return "meets"
    return "within noise" if r <= target + noise else "misses"


def fmt_ratio(r: float, target: float | None = None, noise: float = 0.0) -> str:
    """``1.023x``; with a target, ✓ (meets), ≈ (within ``noise`` of it) or ✗ (misses)."""
    text = f"{r:.3f}x"
    if target is not None:
        mark = {"meets": "✓", "within noise": "≈", "misses": "✗"}
        text += " " + mark[verdict(r, target, noise)]
    return text


# -- output ---------------------------------------------------------------------------------


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Print (and return) a Markdown table, columns padded so it also reads as plain text."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    out = [f"### {title}", "", line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out.extend(line(r) for r in cells[1:])
    text = "\n".join(out) + "\n"
    print(text, flush=True)
    return text


def write_results(name: str, payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` as JSON to ``benchmarks/results/<name>-<UTC time>.json``."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")  # datetime.UTC needs 3.11
    path = RESULTS_DIR / f"{name}-{stamp}.json"
    path.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n", encoding="utf-8")
    return path


def command_line() -> str:
    """How this benchmark was started (this interpreter and its arguments), to record with it."""
    return shlex.join([sys.executable, *sys.argv])


def save_run(name: str, results: Mapping[str, Any]) -> None:
    """:func:`write_results` of ``results`` with the command line and the hardware, then say
    where: every benchmark's record carries what it takes to compare or repeat it."""
    payload = {"command": command_line(), "hardware": hardware(), **results}
    path = write_results(name, payload)
    print(f"results written to {path.relative_to(ROOT)}")


def _json_default(obj: object) -> object:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if hasattr(obj, "__dataclass_fields__"):
        return asdict(obj)  # type: ignore[call-overload]  # checked just above
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


# -- environment ----------------------------------------------------------------------------

_ENV_PREFIXES = ("OPENBLAS", "OMP_", "MKL_", "NVPL_", "GOTO", "BLIS", "KMP_")


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return platform.processor() or platform.machine()
    fields = dict(re.findall(r"^(model name|cpu family|model|flags)\s*:\s*(.*)$", text, re.M))
    name = fields.get("model name", platform.machine())
    simd = [f for f in ("avx2", "avx512f", "amx_tile") if f in fields.get("flags", "").split()]
    family = f"family {fields.get('cpu family', '?')} model {fields.get('model', '?')}"
    return f"{name} ({family}; {', '.join(simd) or 'no avx2'})"


def _mem_total_gib() -> float | None:
    try:
        text = Path("/proc/meminfo").read_text(encoding="utf-8")
    except OSError:
        return None
    m = re.search(r"^MemTotal:\s+(\d+) kB", text, re.M)
    return round(int(m.group(1)) / 2**20, 1) if m else None


def _blas_pools() -> list[dict[str, Any]] | str:
    """Native thread pools (BLAS, OpenMP) as threadpoolctl sees them, if it is installed."""
    try:
        tpc = importlib.import_module("threadpoolctl")
    except ImportError:
        return "threadpoolctl not installed"
    keys = ("internal_api", "version", "num_threads", "architecture", "threading_layer")
    return [
        {k: pool.get(k) for k in keys if pool.get(k) is not None}
        | {"library": Path(str(pool.get("filepath", ""))).name}
        for pool in tpc.threadpool_info()
    ]


def hardware() -> dict[str, Any]:
    """What the figures were measured on: CPU, cores, memory, library versions, thread pools.

    Call it after importing the engines, so their BLAS and OpenMP pools are loaded and listed.
    """
    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "mem_gib": _mem_total_gib(),
        "load_avg_1_5_15": [round(x, 2) for x in os.getloadavg()]
        if hasattr(os, "getloadavg")
        else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    for mod in ("faiss", "edgevec"):
        module = sys.modules.get(mod)
        if module is not None:
            info[mod] = getattr(module, "__version__", "?")
    faiss = sys.modules.get("faiss")
    if faiss is not None:
        info["faiss_omp_threads"] = faiss.omp_get_max_threads()
        info["faiss_compile_options"] = faiss.get_compile_options().strip()
    info["thread_pools"] = _blas_pools()
    info["env"] = {k: v for k, v in sorted(os.environ.items()) if k.startswith(_ENV_PREFIXES)}
    return info


# -- import time ----------------------------------------------------------------------------


def _run(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run this interpreter with ``args`` in the checkout, the checkout first on ``PYTHONPATH``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, *args]
    # Only this interpreter running code written by the benchmarks: no untrusted input.
    return subprocess.run(cmd, env=env, cwd=ROOT, check=True, capture_output=True, text=True)  # noqa: S603


def child_output(code: str) -> str:
    """Stripped stdout of ``code`` run in a fresh interpreter."""
    return _run(["-c", code]).stdout.strip()


def import_times(statement: str, runs: int) -> list[float]:
    """Milliseconds ``statement`` takes in ``runs`` fresh interpreters (startup excluded).

    One untimed run first, so bytecode caches exist and every timed run is a cold *process*
    with a warm disk cache: the situation of a service restarting, not of a first install.
    """
    clock = "time.perf_counter_ns()"
    code = f"import time; _t0 = {clock}\n{statement}\nprint({clock} - _t0)"
    child_output(code)
    return [int(child_output(code).splitlines()[-1]) / 1e6 for _ in range(runs)]


def import_breakdown(module: str, runs: int = 3, top: int = 8) -> list[tuple[str, float]]:
    """Self import time (ms) of ``module`` per top-level package, from ``-X importtime``.

    The median of ``runs`` fresh interpreters per package, so one stalled run does not rank.
    """
    per_run: list[dict[str, float]] = []
    for _ in range(runs):
        totals: dict[str, float] = {}
        for line in _run(["-X", "importtime", "-c", f"import {module}"]).stderr.splitlines():
            m = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
            if m:
                pkg = m.group(2).split(".")[0]
                totals[pkg] = totals.get(pkg, 0.0) + int(m.group(1)) / 1000
        per_run.append(totals)
    pkgs = set().union(*per_run)
    med = {p: statistics.median(t.get(p, 0.0) for t in per_run) for p in pkgs}
    ranked = sorted(med.items(), key=lambda kv: kv[1], reverse=True)
    return [(pkg, round(ms, 2)) for pkg, ms in ranked[:top]]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
