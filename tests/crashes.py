"""The SIGKILL harness the crash tests of persisted in-process backends share.

The parent plans each round's operations, a child process runs them against a persisted store
and prints the number of every operation after its call returned (the acknowledgement). After the
kill the parent reopens the store and requires it to equal the model after the acknowledged
operations, or after one more (the operation in flight may have committed just before the kill).
Kills come at random moments, or at a named durable file step (``EDGEVEC_TEST_KILL_AT``, see
:func:`edgevec.backends._files.crash_point`).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import edgevec
from edgevec import F, Record
from edgevec.testing import assert_hits_match

DIM = 4
POOL = [f"r{i}" for i in range(60)]

CHILD = """
import json, sys
import numpy as np
import edgevec
path, plan, options = sys.argv[1], json.load(open(sys.argv[2])), json.loads(sys.argv[3])
store = edgevec.connect({**options, "path": path})
coll = store.collection("c")
print("ready", flush=True)
for n, op in enumerate(plan):
    if op[0] == "upsert":
        coll.upsert_arrays(op[1], np.array(op[2], np.float32), op[3])
    elif op[0] == "delete":
        coll.delete(ids=op[1])
    elif op[0] == "create":
        store.create_collection("side", 4, exist_ok=True)
    else:
        store.drop_collection("side", missing_ok=True)
    print("ok", n, flush=True)
store.close()
print("closed", flush=True)
"""

Model = tuple[dict[str, tuple[list[float], dict[str, Any]]], bool]  # records, side exists


def plan_ops(rng: random.Random, side: bool, start: int, n: int) -> list[list[Any]]:
    """``n`` random operations: upserts, deletes, and creating or dropping a second collection."""
    ops: list[list[Any]] = []
    for k in range(start, start + n):
        roll = rng.random()
        if roll < 0.08:
            ops.append(["drop" if side else "create"])
            side = not side
        elif roll < 0.35:
            ops.append(["delete", rng.sample(POOL, rng.randint(1, 4))])
        else:
            ids = rng.sample(POOL, rng.randint(1, 8))
            vecs = [[rng.uniform(-1, 1) for _ in range(DIM)] for _ in ids]
            ops.append(["upsert", ids, vecs, [{"op": k, "j": j} for j in range(len(ids))]])
    return ops


def apply_op(model: Model, op: list[Any]) -> Model:
    records, side = dict(model[0]), model[1]
    if op[0] == "upsert":
        for rid, vec, pay in zip(op[1], op[2], op[3]):
            records[rid] = ([float(np.float32(v)) for v in vec], pay)
    elif op[0] == "delete":
        for rid in op[1]:
            records.pop(rid, None)
    else:
        side = op[0] == "create"
    return records, side


def observe(path: Path, options: dict[str, Any]) -> Model:
    """Reopen, read everything back, and check that the store answers queries and writes."""
    with edgevec.connect({**options, "path": str(path)}) as store:
        coll = store.collection("c")
        got = {r.id: ([float(x) for x in r.vector], dict(r.payload)) for r in coll.get(POOL)}  # type: ignore[union-attr]
        assert coll.count() == len(got)
        if got:  # an exact (filtered) search must agree with the oracle on what is stored
            ids = list(got)
            vecs = np.array([got[i][0] for i in ids], np.float32)
            pays = [got[i][1] for i in ids]
            flt = F("op") >= 0
            q = vecs[0]
            assert_hits_match(coll.query(q, k=5, filter=flt), ids, vecs, pays, q, 5, "l2", flt)
        side = store.has_collection("side")
        if side:
            assert store.collection("side").count() == 0
        coll.upsert([Record("probe", np.ones(DIM, np.float32), {"op": -1})])  # accepts a write
        coll.delete(ids=["probe"])
    return got, side


def run_round(
    tmp: Path,
    path: Path,
    options: dict[str, Any],
    plan: list[list[Any]],
    kill_at: str | None,
    delay: float,
) -> tuple[int, bool]:
    """Run one child: how many operations it acknowledged, and whether it was killed."""
    plan_file = tmp / "plan.json"
    plan_file.write_text(json.dumps(plan))
    env = dict(os.environ)
    env.pop("EDGEVEC_TEST_KILL_AT", None)
    if kill_at is not None:
        env["EDGEVEC_TEST_KILL_AT"] = kill_at
    argv = [sys.executable, "-c", CHILD, str(path), str(plan_file), json.dumps(options)]
    with (
        open(tmp / "stderr.txt", "w+") as err,
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, env=env, text=True) as child,
    ):
        assert child.stdout is not None
        first = child.stdout.readline()
        if kill_at is None and first == "ready\n":
            time.sleep(delay)
            child.send_signal(signal.SIGKILL)
        lines = [first, *child.stdout]  # what the child wrote before it died stays in the pipe
        child.wait(timeout=120)
        err.seek(0)
        assert first == "ready\n", err.read()
        if child.returncode != -signal.SIGKILL:
            assert child.returncode == 0, err.read()
            assert lines[-1] == "closed\n"
    acked = sum(line.startswith("ok ") for line in lines)
    return acked, child.returncode == -signal.SIGKILL


def kill_rounds(
    tmp: Path,
    path: Path,
    options: dict[str, Any],
    schedule: list[tuple[str | None, float]],
    rng: random.Random,
    ops_per_round: int = 40,
) -> None:
    """Run the rounds of ``schedule`` (a kill point, or ``None`` and a delay) against the store
    at ``path`` (holding an empty collection ``c``); every reopen must equal the model."""
    model: Model = ({}, False)
    step = 0
    for kill_at, delay in schedule:
        plan = plan_ops(rng, model[1], step, ops_per_round)
        acked, killed = run_round(tmp, path, options, plan, kill_at, delay)
        assert killed or kill_at is None, f"{kill_at} was never reached: the hook is not wired"
        done = model
        for op in plan[:acked]:
            done = apply_op(done, op)
        maybe = apply_op(done, plan[acked]) if acked < len(plan) else done
        got = observe(path, options)
        context = f"kill at {kill_at or f'{delay:.2f}s'} after {acked} acknowledged writes"
        assert got in (done, maybe), context
        model = got
        step += len(plan)
