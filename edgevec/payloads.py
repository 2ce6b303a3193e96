"""The one JSON value model every payload follows, and the copies that keep stored data private.

A payload is a ``dict`` with ``str`` keys whose values are ``str``, ``int``, finite ``float``,
``bool``, ``None``, lists of values and nested dicts, at most :data:`MAX_DEPTH` containers deep.
That is what JSON carries, so a payload means the same on every backend and after a restart.
Writes are converted into fresh objects of exactly those types:

* tuples become lists and other mappings become dicts (JSON has one array and one object type);
* numpy scalars become the Python number, bool or str they hold (what ``.item()`` gives);
* subclasses of str, int and float become the plain type;
* anything else is refused, naming its path: ``datetime``, ``UUID``, ``bytes``, dataclasses,
  sets, arrays and ``Enum`` members (their JSON form would come back as a different value),
  non-str keys, NaN and Inf, ints beyond the backend's exact range (64-bit, or ±2**53 where
  a backend compares numbers as doubles: ``Capabilities.exact_int_bits``), invalid Unicode.

Reads hand out :func:`copy_payload` copies, so mutating a returned payload (or the caller's
input after a write) never changes a stored record or its filter results.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import Enum
from typing import Any

import numpy as np

from edgevec.errors import InvalidInputError

__all__ = [
    "MAX_DEPTH",
    "canonical_payload",
    "check_floats_read_exactly",
    "copy_payload",
    "float_reads_exactly",
    "int_range",
    "is_flat",
]

MAX_DEPTH = 32
"""Deepest nesting of dicts and lists a payload may have."""


def int_range(bits: int) -> tuple[int, int]:
    """The ints a backend with ``exact_int_bits=bits`` stores and compares exactly."""
    if bits >= 64:
        return -(2**63), 2**63 - 1
    return -(2**bits), 2**bits  # a double holds every int up to 2**53 in magnitude


def float_reads_exactly(value: float) -> bool:
    """Whether any decimal parser reads ``value``'s shortest decimal form back exactly.

    That form (Python's ``repr``, as written) is ``digits * 10**exp``; when ``digits`` is a
    double and ``|exp| <= 22`` (so ``10**exp`` is one too), one correctly rounded multiply or
    divide gives ``value``, which is what even a fast, inexact parser does (Clinger's fast
    path). Other floats, such as ``0.09999999999999999``, may come back one ulp off from such a
    parser.
    """
    mantissa, _, exp_text = repr(abs(value)).partition("e")
    whole, _, frac = mantissa.partition(".")  # "3.0": the parser reads the "0" as a digit too
    digits = int(whole + frac)
    exp = (int(exp_text) if exp_text else 0) - len(frac)
    return float(digits) == digits and (digits == 0 or abs(exp) <= 22)


def check_floats_read_exactly(payloads: list[dict[str, Any]], engine: str) -> None:
    """Refuse the batch if a (canonical) payload holds a float :func:`float_reads_exactly`
    rejects: for engines that would store it as a neighbouring value
    (``Capabilities.exact_floats=False``). The error names the record and the path."""

    def walk(value: Any, path: str) -> str | None:
        if type(value) is float:
            return None if float_reads_exactly(value) else path
        items = (
            value.items()
            if type(value) is dict
            else enumerate(value)
            if type(value) is list
            else ()
        )
        for key, item in items:
            found = walk(item, f"{path}[{key!r}]")
            if found is not None:
                return found
        return None

    for index, payload in enumerate(payloads):
        where = walk(payload, "payload")
        if where is not None:
            raise InvalidInputError(
                f"payload #{index} holds a float {engine} would store as a neighbouring value: "
                f"{where}; round it to at most 15 significant digits (float(f'{{x:.15g}}'); "
                "magnitudes 1e-7 to 1e22 or 0) or store it as a string"
            )


class _BadValueError(Exception):
    """A value outside the model; ``path`` grows from the value up to the payload's root."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[str] = []


def canonical_payload(
    payload: Mapping[str, Any] | None, index: int, ints: tuple[int, int]
) -> dict[str, Any]:
    """A fresh copy of record ``index``'s payload in the JSON value model, or
    :class:`InvalidInputError` naming the record and the path of the first bad value."""
    if payload is None:
        return {}
    try:
        if not isinstance(payload, Mapping):
            raise _BadValueError(f"a payload must be a mapping, got {type(payload).__name__}")
        return _object(payload, ints, 1)
    except _BadValueError as bad:
        where = "payload" + "".join(reversed(bad.path))
        raise InvalidInputError(f"payload #{index} is not JSON: {where}: {bad.reason}") from None


def _object(obj: Mapping[Any, Any], ints: tuple[int, int], depth: int) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        raise _BadValueError(f"nested deeper than {MAX_DEPTH} levels")
    lo, hi = ints
    out: dict[str, Any] = {}
    for key, v in obj.items():
        if type(key) is not str or not key.isascii():
            key = _text(key, "key")
        t = type(v)  # the common types inline: this loop is on every write's path
        if (
            (t is str and v.isascii())
            or (t is int and lo <= v <= hi)
            or (t is float and math.isfinite(v))
            or t is bool
            or v is None
        ):
            out[key] = v
            continue
        try:
            if t is dict:
                out[key] = _object(v, ints, depth + 1)
            elif t is list or t is tuple:
                out[key] = _array(v, ints, depth + 1)
            else:
                out[key] = _value(v, ints, depth)
        except _BadValueError as bad:
            bad.path.append(f"[{key!r}]")
            raise
    return out


def _array(items: list[Any] | tuple[Any, ...], ints: tuple[int, int], depth: int) -> list[Any]:
    if depth > MAX_DEPTH:
        raise _BadValueError(f"nested deeper than {MAX_DEPTH} levels")
    lo, hi = ints
    out: list[Any] = []
    for i, v in enumerate(items):
        t = type(v)
        if (
            (t is str and v.isascii())
            or (t is int and lo <= v <= hi)
            or (t is float and math.isfinite(v))
            or t is bool
            or v is None
        ):
            out.append(v)
            continue
        try:
            out.append(_value(v, ints, depth))
        except _BadValueError as bad:
            bad.path.append(f"[{i}]")
            raise
    return out


def _value(v: Any, ints: tuple[int, int], depth: int) -> Any:
    """The slow path: anything but an ASCII str, an in-range int or a finite float."""
    if v is None or type(v) is bool:
        return v
    if isinstance(v, Enum):
        raise _BadValueError(f"{type(v).__name__} member {v.name}: store its .value instead")
    if isinstance(v, np.generic):  # what .item() gives is checked like any other value
        return _value(v.item(), ints, depth)
    if isinstance(v, str):
        return _text(v, "value")
    if isinstance(v, int):
        lo, hi = ints
        if not lo <= v <= hi:
            raise _BadValueError(f"int {v} is outside the exact range {lo}..{hi} of this backend")
        return int.__int__(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise _BadValueError(f"{v} is not a JSON number (NaN and Inf are not allowed)")
        return float.__float__(v)
    if isinstance(v, Mapping):
        return _object(v, ints, depth + 1)
    if isinstance(v, list | tuple):
        return _array(v, ints, depth + 1)
    raise _BadValueError(
        f"{type(v).__name__} is not a JSON value (str, int, float, bool, None, list or dict "
        "with str keys); convert it first, e.g. a datetime to an ISO string"
    )


def _text(s: object, what: str) -> str:
    if not isinstance(s, str) or isinstance(s, Enum):
        raise _BadValueError(f"{what} {s!r} is {type(s).__name__}; JSON object keys must be str")
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _BadValueError(f"{what} {s[:32]!r} is not valid Unicode text: {exc.reason}") from None
    return str.__str__(s)


def copy_payload(payload: Mapping[str, Any] | None) -> dict[str, Any]:
    """A deep copy of a stored payload (already in the model), for handing to a caller."""
    if payload is None:
        return {}
    out = dict(payload)
    for key, v in out.items():  # only containers need copying; atoms are immutable
        t = type(v)
        if t is list:
            out[key] = _copy_list(v)
        elif t is dict:
            out[key] = copy_payload(v)
    return out


_CONTAINERS = frozenset((list, dict))


def is_flat(payload: Mapping[str, Any] | None) -> bool:
    """Whether ``payload`` (in the model) is a dict holding atoms only, so that one shallow
    ``dict.copy`` is already a private copy (a store may note this once per write and skip
    :func:`copy_payload`'s walk on every read)."""
    return type(payload) is dict and _CONTAINERS.isdisjoint(map(type, payload.values()))


def _copy_list(items: list[Any]) -> list[Any]:
    out = items.copy()
    for i, v in enumerate(out):
        t = type(v)
        if t is list:
            out[i] = _copy_list(v)
        elif t is dict:
            out[i] = copy_payload(v)
    return out
