"""``edgevec migrate``: copy a collection between the stores of two config files, then verify."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from edgevec.cli.options import JsonOpt
from edgevec.cli.output import err, print_json, progress, seconds, show_table
from edgevec.connect import connect
from edgevec.errors import VerificationError
from edgevec.migrate import migrate as copy
from edgevec.migrate import verify

__all__ = ["migrate"]


def migrate(
    source: Annotated[Path, typer.Option("--from", dir_okay=False, help="Source config file.")],
    target: Annotated[Path, typer.Option("--to", dir_okay=False, help="Target config file.")],
    collection: Annotated[str, typer.Option(help="The collection to copy.")],
    target_collection: Annotated[
        str | None, typer.Option(help="Its name in the target (default: the same).")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Records per page.")] = 256,
    verify_sample: Annotated[
        int, typer.Option(min=0, help="Records compared (vector and payload) after the copy.")
    ] = 100,
    verify_only: Annotated[
        bool, typer.Option("--verify-only", help="Compare source and target; copy nothing.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Copy a collection from one store to another in pages, then verify the copy.

    Resumable: records the target already holds unchanged are not written again. Verification
    compares the counts and a random sample of records; a mismatch exits with status 1.
    """
    summary: dict[str, Any]
    with connect(config=source) as src, connect(config=target) as dst:
        if verify_only:
            check = verify(src, dst, collection, target_collection=target_collection,
                           sample=verify_sample, batch_size=batch_size)  # fmt: skip
            if not check.ok:
                raise VerificationError(check)
            summary = {"verification": check.describe()}
        else:
            total = src.collection(collection).count()
            with progress() as bars:
                task = bars.add_task(f"migrating {collection}", total=total)
                report = copy(src, dst, collection, target_collection=target_collection,
                              batch_size=batch_size, verify_sample=verify_sample,
                              progress=lambda n: bars.advance(task, n))  # fmt: skip
            summary = {
                "read": report.read,
                "written": report.written,
                "skipped": report.skipped,
                "seconds": report.seconds,
                "verification": report.verification.describe(),
            }
    if as_json:
        print_json(summary)
    elif verify_only:
        err().print(summary["verification"], markup=False)
    else:
        rows = [(k, seconds(v) if k == "seconds" else v) for k, v in summary.items()]
        show_table(f"{source} → {target}: {collection!r}", ("", "value"), rows)
