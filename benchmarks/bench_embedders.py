"""edgevec's ONNX embedders against raw onnxruntime, in one run, on the same inputs and threads.

Timed interleaved call by call (``harness.interleaved``), with a second raw series as an A/A
control that shows the machine's noise:

* preprocessing of one 1024x768 JPEG: edgevec's check + draft decode + resize/crop/normalise into
  its reused buffer, against a plain Pillow + numpy recipe with a full decode (what a hand-written
  pipeline usually does) and with ``draft()`` (the same work);
* inference on pre-made tensors, batch 1 and 32: edgevec's model call (+ L2 normalisation) against
  ``InferenceSession.run``;
* end to end, images (JPEG bytes in, unit vectors out) and sentences (text in), batch 1 and 32:
  ``embed`` against the textbook recipe written with Pillow / tokenizers, numpy and onnxruntime
  (draft decode, short side to 256, centre crop 224; edgevec resamples the crop in one pass).

Targets (issue 5): preprocessing <= 4 ms per image with draft; edgevec <= 1.10x raw. The embedding
cache is off (inputs repeat across calls). Results print as Markdown tables and are written to
``benchmarks/results/embedders-*.json``.

    python benchmarks/bench_embedders.py --threads 2
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import harness
import numpy as np
import numpy.typing as npt
from harness import Latency, fmt_ms, fmt_ratio, interleaved, paired_ratio, print_table
from PIL import Image

from edgevec.embedders import (
    EFFICIENTNET_LITE0,
    MINILM_L6_V2_INT8,
    MINILM_L6_V2_TOKENIZER,
    image_embedder,
    text_embedder,
)

TARGET_PREPROCESS_MS = 4.0
TARGET_RATIO = 1.10
DATA = harness.ROOT / "tests" / "data"
F32 = npt.NDArray[np.float32]

ort: Any = importlib.import_module("onnxruntime")  # no type stubs


def jpegs(n: int) -> list[bytes]:
    """``n`` distinct 1024x768 JPEGs (quality 90) cut from the shipped CC0 photos."""
    photos = [Image.open(p).convert("RGB") for p in sorted((DATA / "photos").iterdir())]
    out = []
    for i in range(n):
        im = photos[i % len(photos)]
        w, h = im.size
        shift = (i // len(photos)) * 7 % max(1, w // 8)
        box = (shift, 0, w - (w // 8) + shift, h)
        buf = io.BytesIO()
        im.crop(box).resize((1024, 768), Image.Resampling.BICUBIC).save(buf, "JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def sentences(n: int) -> list[str]:
    lines = (DATA / "sentences.tsv").read_text(encoding="utf-8").splitlines()[1:]
    texts = [line.split("\t", 1)[1] for line in lines]
    return [texts[i % len(texts)] for i in range(n)]


def session(path: Path, threads: int, spin: bool) -> Any:
    """A raw session configured as edgevec configures its own (threads, spinning)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def plain_preprocess(data: bytes, *, draft: bool) -> F32:
    """The image recipe by hand: decode, short side 256, centre 224, (x - 127) / 128, NCHW."""
    im: Image.Image = Image.open(io.BytesIO(data))
    if draft:
        im.draft("RGB", (256, 256))
    im = im.convert("RGB")
    w, h = im.size
    s = 256 / min(w, h)
    size = (max(256, round(w * s)), max(256, round(h * s)))
    left, top = (size[0] - 224) // 2, (size[1] - 224) // 2
    im = im.resize(size, Image.Resampling.BILINEAR).crop((left, top, left + 224, top + 224))
    out: F32 = ((np.asarray(im, dtype=np.float32) - 127.0) / 128.0).transpose(2, 0, 1)
    return out


def unit(x: F32) -> F32:
    out: F32 = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def compare(
    title: str,
    contenders: Mapping[str, Callable[[int], object]],
    n: int,
    per: int,
    budget_s: float,
    rows: list[list[object]],
    results: dict[str, Any],
) -> None:
    """Time edgevec, raw and raw again (A/A); append a table row per contender."""
    ns, _ = interleaved(contenders, n, warmup=3, budget_s=budget_s, min_calls=15)
    names = list(contenders)
    edge, raw, control = (ns[k] for k in names)
    r, aa = paired_ratio(edge, raw), paired_ratio(control, raw)
    results[title] = {"ratio": r, "aa": aa, **{k: Latency.of(v, per) for k, v in ns.items()}}
    for name in names:
        lat = Latency.of(ns[name], per)
        rate = 1000 / lat.p50_ms if lat.p50_ms else float("nan")
        ratio_cell = fmt_ratio(r, TARGET_RATIO, abs(aa - 1)) if name == names[0] else ""
        aa_cell = f"{aa:.3f}x" if name == names[0] else ""
        rows.append([title, name, fmt_ms(lat.p50_ms), fmt_ms(lat.p99_ms), f"{rate:.0f}/s",
                     ratio_cell, aa_cell, lat.n])  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--calls", type=int, default=200, help="timed calls per series (max)")
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per series (max)")
    parser.add_argument(
        "--spin", action="store_true", help="let onnxruntime threads busy-wait (all sessions)"
    )
    args = parser.parse_args(argv)
    command = "python benchmarks/bench_embedders.py " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    print(f"command: {command}")
    for key, value in harness.hardware().items():
        print(f"{key}: {value}")
    print(f"onnxruntime: {ort.__version__}, threads: {args.threads}, spinning: {args.spin}\n")

    # Every contender has its own session, all configured alike: sessions share the cores, and
    # how one's threads wait after a run affects the next (see ``--spin``).
    img = image_embedder(cache=False, threads=args.threads, spin=args.spin)
    img_raw = session(EFFICIENTNET_LITE0.path, args.threads, args.spin)
    img_aa = session(EFFICIENTNET_LITE0.path, args.threads, args.spin)
    images = jpegs(32)
    results: dict[str, Any] = {}

    # -- preprocessing, one image per call -------------------------------------------------
    pre_rows: list[list[object]] = []
    pre: dict[str, Callable[[int], object]] = {
        "edgevec (draft)": lambda i: img.preprocess([(0, img._check(0, images[i % 32]))]),
        "plain Pillow, draft": lambda i: plain_preprocess(images[i % 32], draft=True),
        "plain Pillow, full decode": lambda i: plain_preprocess(images[i % 32], draft=False),
    }
    ns, _ = interleaved(pre, args.calls, warmup=3, budget_s=args.budget, min_calls=15)
    for name, samples in ns.items():
        lat = Latency.of(samples)
        pre_rows.append([name, fmt_ms(lat.p50_ms), fmt_ms(lat.p99_ms), lat.n])
    edge_pre = Latency.of(ns["edgevec (draft)"]).p50_ms
    results["preprocess_ms"] = {k: Latency.of(v) for k, v in ns.items()}
    results["preprocess_ratio_vs_draft"] = paired_ratio(
        ns["edgevec (draft)"], ns["plain Pillow, draft"]
    )

    # -- inference on pre-made tensors, and end to end -------------------------------------
    rows: list[list[object]] = []

    def edge_tensor(t: F32, i: int) -> F32:
        return img._finish(img.run_tensor(t), list(range(len(t))))

    def raw_tensor(sess: Any, t: F32, i: int) -> F32:
        return unit(sess.run(["embedding"], {"input": t})[0])

    for b in (1, 32):
        t = np.ascontiguousarray(np.stack([plain_preprocess(d, draft=True) for d in images[:b]]))
        contenders = {
            "edgevec": partial(edge_tensor, t),
            "raw": partial(raw_tensor, img_raw, t),
            "raw (A/A)": partial(raw_tensor, img_aa, t),
        }
        compare(f"images, tensors, batch {b}", contenders, args.calls, b, args.budget, rows,
                results)  # fmt: skip

    def edge_images(b: int, i: int) -> F32:
        return img.embed(images[i % 32 : i % 32 + b])

    def raw_images(sess: Any, b: int, i: int) -> F32:
        x = np.stack([plain_preprocess(d, draft=True) for d in images[i % 32 : i % 32 + b]])
        return unit(sess.run(["embedding"], {"input": x})[0])

    for b in (1, 32):
        contenders = {
            "edgevec": partial(edge_images, b),
            "raw": partial(raw_images, img_raw, b),
            "raw (A/A)": partial(raw_images, img_aa, b),
        }
        compare(f"images, JPEG bytes, batch {b}", contenders, args.calls, b, args.budget, rows,
                results)  # fmt: skip

    txt = text_embedder(cache=False, threads=args.threads, spin=args.spin)
    txt_raw = session(MINILM_L6_V2_INT8.path, args.threads, args.spin)
    txt_aa = session(MINILM_L6_V2_INT8.path, args.threads, args.spin)
    tokenizers: Any = importlib.import_module("tokenizers")
    tok = tokenizers.Tokenizer.from_file(str(MINILM_L6_V2_TOKENIZER.path))
    tok.enable_truncation(max_length=256)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106  # a token, not a password
    texts = sentences(32 * 8)

    def batch_of(b: int, i: int) -> list[str]:
        start = (i * b) % 224
        return texts[start : start + b]

    def edge_text(b: int, i: int) -> F32:
        return txt.embed(batch_of(b, i))

    def raw_text(sess: Any, b: int, i: int) -> F32:
        enc = tok.encode_batch(batch_of(b, i))
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feeds = {
            "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
            "attention_mask": mask,
            "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
        }
        (states,) = sess.run(None, feeds)
        w = mask[:, :, None].astype(np.float32)
        return unit((states * w).sum(axis=1) / w.sum(axis=1))

    for b in (1, 32):
        contenders = {
            "edgevec": partial(edge_text, b),
            "raw": partial(raw_text, txt_raw, b),
            "raw (A/A)": partial(raw_text, txt_aa, b),
        }
        compare(f"sentences, batch {b}", contenders, args.calls, b, args.budget, rows, results)

    headers = ["workload", "contender", "p50/item", "p99/item", "items/s", "edgevec/raw", "A/A"]
    tables = [
        print_table(
            f"Preprocessing one 1024x768 JPEG (target <= {TARGET_PREPROCESS_MS:g} ms with draft)",
            ["pipeline", "p50", "p99", "calls"],
            pre_rows,
        ),
        print_table(
            f"edgevec vs raw onnxruntime, {args.threads} threads, spinning {args.spin} "
            f"(per item; target <= {TARGET_RATIO:.2f}x; ✓ meets, ≈ within A/A noise, ✗ misses)",
            [*headers, "calls"],
            rows,
        ),
    ]
    met = "meets" if edge_pre <= TARGET_PREPROCESS_MS else "misses"
    print(f"edgevec preprocessing p50 {edge_pre:.2f} ms per image ({met} the 4 ms target)")
    payload = {"command": command, "hardware": harness.hardware(), "results": results}
    path = harness.write_results("embedders", {**payload, "tables": tables})
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
