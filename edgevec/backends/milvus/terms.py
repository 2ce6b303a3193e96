"""The ``payload_terms`` column: type-tagged terms derived from a payload, under hashed keys."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from typing import Any

from edgevec.errors import InvalidInputError


@functools.lru_cache(maxsize=8192)
def path_key(path: str) -> str:
    """A fixed-width, identifier-safe key for a dotted path (80-bit BLAKE2b)."""
    digest = hashlib.blake2b(path.encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()
    return digest


def _number_tag(value: float) -> str:
    # Equal numbers get equal tags: integral floats print as ints, so 3 and 3.0 are both "n:3".
    if isinstance(value, float) and value.is_integer():
        return f"n:{int(value)}"
    return f"n:{value!r}"


def term(value: object) -> str:
    """The type-tagged string for a scalar filter value or payload element."""
    if isinstance(value, bool):
        return "b:true" if value else "b:false"
    if isinstance(value, int | float):
        return _number_tag(value)
    if isinstance(value, str):
        return "s:" + value
    raise InvalidInputError(f"not a scalar filter value: {value!r}")


def payload_terms(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The ``payload_terms`` column for ``payload`` (see the module docstring)."""
    out: dict[str, Any] = {}
    _collect_terms(payload, "", out)
    return out


def _collect_terms(obj: Mapping[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for k, value in obj.items():
        if value is None or not k or "." in k:
            continue
        path = prefix + k
        h = path_key(path)
        elems = value if isinstance(value, list) else (value,)
        if not elems:
            continue
        out["x_" + h] = True
        tags: dict[str, None] = {}
        nums: list[int | float] = []
        for e in elems:
            if isinstance(e, bool | str):
                tags[term(e)] = None
            elif isinstance(e, int | float):
                tags[term(e)] = None
                nums.append(e)
        if tags:
            out["e_" + h] = list(tags)
        if nums:
            out["lo_" + h] = min(nums)
            out["hi_" + h] = max(nums)
        if isinstance(value, Mapping):
            _collect_terms(value, path + ".", out)
