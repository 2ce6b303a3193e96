"""Declared payload fields: the typed columns a collection promises to filter on quickly.

``create_collection(..., fields={"label": "int", "price": "float", "tags": "keyword[]"})``
declares top-level payload fields and their types, so each backend can keep them as native typed
columns or payload indexes instead of scanning JSON. Declaring a field never changes what a filter
means: the oracle's rules (absent fields, lists, ``3 == 3.0``, ``True`` is not ``1``) hold on
declared fields exactly as on undeclared ones, which keep working as before.

Writes are checked against the declaration before anything is stored (a batch with one bad value
writes nothing). The rules, chosen so a stored value reads back unchanged and fits the column:

* ``int``: a Python ``int`` (not ``bool``); ``3.0`` is refused, since an integer column would
  hand it back as ``3``.
* ``float``: a ``float``, or an ``int`` within ±2**53 (every such int is exactly a double, so the
  float column compares it exactly; it still reads back as the ``int`` written).
* ``bool``: ``True`` or ``False`` only (``1`` is a number, not a bool, as in filters).
* ``keyword``: a ``str``.
* ``T[]``: a list whose elements are each a valid ``T`` (an empty list is fine, ``null``
  elements are not); a lone value where a list is declared is refused, and a list where a
  scalar is declared.
* A missing field or ``None`` is always valid: declared fields stay optional.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal, get_args

from edgevec.errors import CollectionExistsError, InvalidInputError

__all__ = [
    "FIELD_TYPES",
    "MAX_FIELDS",
    "NO_FIELDS",
    "FieldType",
    "ScalarType",
    "check_field_values",
    "check_fields",
    "check_same_fields",
    "element_type",
]

ScalarType = Literal["int", "float", "bool", "keyword"]
FieldType = Literal["int", "float", "bool", "keyword", "int[]", "float[]", "bool[]", "keyword[]"]
FIELD_TYPES: tuple[FieldType, ...] = get_args(FieldType)
MAX_FIELDS = 64
"""Most fields one collection may declare (each becomes a column or index on the engine)."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_EXACT_DOUBLE_INT = 2**53
NO_FIELDS: Mapping[str, FieldType] = MappingProxyType({})


def element_type(kind: FieldType) -> tuple[ScalarType, bool]:
    """``(scalar type, is_list)`` of a declared type: ``"keyword[]"`` is ``("keyword", True)``."""
    if kind.endswith("[]"):
        return kind[:-2], True  # type: ignore[return-value]  # FIELD_TYPES lists them all
    return kind, False  # type: ignore[return-value]


def check_fields(fields: object) -> Mapping[str, FieldType]:
    """Validate a ``fields=`` declaration into a read-only, name-sorted mapping.

    Names are top-level payload keys spelled as portable identifiers (what every engine accepts
    as a column or property name); types are those of :data:`FIELD_TYPES`.
    """
    if fields is None:
        return NO_FIELDS
    if not isinstance(fields, Mapping):
        raise InvalidInputError(
            f"fields must be a dict of field name to type, got {type(fields).__name__}"
        )
    if len(fields) > MAX_FIELDS:
        raise InvalidInputError(f"{len(fields)} fields declared; at most {MAX_FIELDS} may be")
    out: dict[str, FieldType] = {}
    for name in sorted(fields, key=str):
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise InvalidInputError(
                f"invalid field name {name!r}: declare top-level payload keys made of letters, "
                "digits and '_', starting with a letter or '_', at most 63 characters"
            )
        kind = fields[name]
        if kind not in FIELD_TYPES:
            raise InvalidInputError(
                f"field {name!r} has unknown type {kind!r}; choose one of {', '.join(FIELD_TYPES)}"
            )
        out[name] = kind
    return MappingProxyType(out)


def check_same_fields(
    name: str, have: Mapping[str, FieldType], want: Mapping[str, FieldType]
) -> None:
    """``exist_ok=True`` must not hide a collection whose declared fields differ."""
    if dict(have) != dict(want):
        raise CollectionExistsError(
            f"collection {name!r} exists with fields={dict(have)!r}; "
            f"asked for fields={dict(want)!r}"
        )


def _fits(kind: ScalarType, v: Any) -> bool:
    t = type(v)
    if kind == "int":
        return t is int
    if kind == "float":
        return t is float or (t is int and -_EXACT_DOUBLE_INT <= v <= _EXACT_DOUBLE_INT)
    if kind == "bool":
        return t is bool
    return t is str


def check_field_values(
    payloads: Sequence[Mapping[str, Any]], fields: Mapping[str, FieldType]
) -> None:
    """Refuse the batch if a declared field of any payload holds a value of another type.

    ``payloads`` are already in the JSON value model (plain ``int``/``float``/``str``/...), so
    exact type checks suffice. The error names the record's index, the field and the value.
    """
    if not fields:
        return
    kinds = [(name, *element_type(kind)) for name, kind in fields.items()]
    for index, payload in enumerate(payloads):
        for name, scalar, is_list in kinds:
            v = payload.get(name)
            if v is None:
                continue
            if is_list:
                ok = type(v) is list and all(_fits(scalar, e) for e in v)
            else:
                ok = _fits(scalar, v)
            if not ok:
                raise InvalidInputError(
                    f"payload #{index}: field {name!r} is declared {fields[name]!r}, got "
                    f"{type(v).__name__} {v!r:.60}"
                )
