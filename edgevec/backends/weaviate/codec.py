"""Names, ids and payloads as Weaviate stores them: reversible class and property names,
object uuids, and the properties derived from a payload."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Literal

import orjson
from weaviate.classes.config import DataType, Property, Tokenization

from edgevec.errors import InvalidInputError
from edgevec.fields import NO_FIELDS, FieldType
from edgevec.prepare import check_collection_name

ID_NAMESPACE = uuid.UUID("6f1c3f9e-5d2a-5b8e-9a47-2c0e8d1b7a35")
"""Namespace of the ``uuid5`` object ids (the Qdrant backend's too); fixed forever."""
CLASS_PREFIX = "Edgevec_"
"""Every class edgevec creates starts with this; others are not listed as collections."""
VECTOR_NAME = "default"
PROP_ID, PROP_PAYLOAD, PROP_PATHS = "ev_id", "ev_payload", "ev_paths"
ALL_TOKEN = "*"  # noqa: S105  # a filter token, not a password
"""In every object's ``ev_paths`` (never a path token): the filter that matches everything."""
Kind = Literal["s", "n", "i", "b"]
KINDS: dict[str, DataType] = {
    "s": DataType.TEXT_ARRAY,
    "n": DataType.NUMBER_ARRAY,
    "i": DataType.INT_ARRAY,
    "b": DataType.BOOL_ARRAY,
}
MAX_PROPERTY_NAME = 231  # Weaviate: /^[_A-Za-z][_0-9A-Za-z]{0,230}$/


def encode_name(text: str) -> str:
    """``text`` as lowercase ``[a-z0-9_]``, reversibly (:func:`decode_name`).

    ``a-z 0-9`` stay, ``_`` -> ``__``, ``A-Z`` -> ``_`` + lowercase, ``.`` -> ``_9``, any other
    character -> ``_0<hex code point>_``. Case is never relied on, because Weaviate treats class
    and property names that differ only in case as the same name.
    """
    out: list[str] = []
    for ch in text:
        if "a" <= ch <= "z" or "0" <= ch <= "9":
            out.append(ch)
        elif ch == "_":
            out.append("__")
        elif "A" <= ch <= "Z":
            out.append("_" + ch.lower())
        elif ch == ".":
            out.append("_9")
        else:
            out.append(f"_0{ord(ch):x}_")
    return "".join(out)


def decode_name(text: str) -> str | None:
    """The inverse of :func:`encode_name`; ``None`` if ``text`` is not one of its outputs."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "_":
            if not ("a" <= ch <= "z" or "0" <= ch <= "9"):
                return None
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1] if i + 1 < n else ""
        if nxt == "_":
            out.append("_")
        elif "a" <= nxt <= "z":
            out.append(nxt.upper())
        elif nxt == "9":
            out.append(".")
        elif nxt == "0":
            end = text.find("_", i + 2)
            digits = text[i + 2 : end]
            if end < 0 or not digits or any(c not in "0123456789abcdef" for c in digits):
                return None
            code = int(digits, 16)
            if code > 0x10FFFF:
                return None
            out.append(chr(code))
            i = end + 1
            continue
        else:
            return None
        i += 2
    decoded = "".join(out)
    return decoded if encode_name(decoded) == text else None  # only canonical spellings


def class_name(name: str) -> str:
    """The Weaviate class of edgevec collection ``name``."""
    return CLASS_PREFIX + encode_name(check_collection_name(name))


def collection_name(weaviate_class: str) -> str | None:
    """The edgevec collection held by a Weaviate class; ``None`` if edgevec did not make it."""
    if not weaviate_class.startswith(CLASS_PREFIX):
        return None
    name = decode_name(weaviate_class[len(CLASS_PREFIX) :])
    if name is None:
        return None
    try:
        return check_collection_name(name)
    except InvalidInputError:
        return None


def property_name(path: str, kind: Kind) -> str:
    """The derived filter property of ``kind`` (str, number, big int, bool) at ``path``."""
    return f"p{kind}_{encode_name(path)}"


def property_path(prop: str) -> tuple[str, str] | None:
    """``(path, kind)`` of a derived property name, or ``None`` for any other property."""
    if len(prop) < 3 or prop[0] != "p" or prop[1] not in KINDS or prop[2] != "_":
        return None
    path = decode_name(prop[3:])
    return None if path is None else (path, prop[1])


def object_uuid(record_id: str) -> str:
    """The Weaviate object uuid of an edgevec record id."""
    return str(uuid.uuid5(ID_NAMESPACE, record_id))


def text_term(value: str) -> str:
    # Text arrays use "field" tokenization, which trims surrounding whitespace: the bars keep
    # "red " and "red" apart. Filters wrap their values the same way.
    return f"|{value}|"


def object_properties(
    record_id: str, payload: Mapping[str, Any], needed: dict[str, DataType] | None = None
) -> dict[str, Any]:
    """The Weaviate properties of one record (see the module docstring).

    Derived properties are added to ``needed`` (name -> data type) so the caller can create the
    ones the class lacks. A path whose property name would exceed Weaviate's 231 characters gets
    only its ``ev_paths`` token: ``exists`` works on it, comparisons raise before any request.
    """
    tokens: list[str] = [ALL_TOKEN]
    terms: dict[str, dict[Any, None]] = {}
    _walk(payload, "", tokens, terms)
    props: dict[str, Any] = {
        PROP_ID: record_id,
        PROP_PAYLOAD: orjson.dumps(payload).decode(),
        PROP_PATHS: tokens,
    }
    for name, values in terms.items():
        if values:
            props[name] = list(values)
        if needed is not None:
            needed[name] = KINDS[name[1]]
    return props


def _walk(
    obj: Mapping[str, Any], prefix: str, tokens: list[str], terms: dict[str, dict[Any, None]]
) -> None:
    for key, value in obj.items():
        # Keys holding a "." cannot be named by a filter path (F("a.b") walks into "a").
        if value is None or not key or "." in key:
            continue
        path = prefix + key
        elems = value if isinstance(value, list) else (value,)
        if not elems:
            continue
        enc = encode_name(path)
        tokens.append(enc)
        for e in elems:
            kind: Kind
            term: Any
            if isinstance(e, bool):
                kind, term = "b", e
            elif isinstance(e, int | float):
                kind, term = number_term(e)
                if len(f"pn_{enc}") <= MAX_PROPERTY_NAME:  # numbers need both properties
                    terms.setdefault(f"pn_{enc}", {})
                    terms.setdefault(f"pi_{enc}", {})
            elif isinstance(e, str):
                kind, term = "s", text_term(e)
            else:  # objects, nested lists, nulls in lists: present, equal to no scalar
                continue
            name = f"p{kind}_{enc}"
            if len(name) <= MAX_PROPERTY_NAME:
                terms.setdefault(name, {})[term] = None
        if isinstance(value, Mapping):
            _walk(value, path + ".", tokens, terms)


def typed_property(name: str, data_type: DataType) -> Property:
    if data_type == DataType.TEXT_ARRAY:
        return Property(
            name=name,
            data_type=data_type,
            tokenization=Tokenization.FIELD,
            index_filterable=True,
            index_searchable=False,
        )
    return Property(name=name, data_type=data_type, index_filterable=True)


_DECLARED_KINDS: dict[str, tuple[Kind, ...]] = {
    "int": ("n", "i"), "float": ("n",), "bool": ("b",), "keyword": ("s",),
}  # fmt: skip
"""The derived filter properties a declared type fills (ints beyond 2**53 go to ``pi_``)."""


def fixed_properties(fields: Mapping[str, FieldType] = NO_FIELDS) -> list[Property]:
    """The properties a class is created with: edgevec's own, plus the typed filter properties
    of every declared field, so they exist (indexed, typed) before the first write."""
    declared = [
        typed_property(property_name(name, kind), KINDS[kind])
        for name, declared_type in fields.items()
        for kind in _DECLARED_KINDS[declared_type.removesuffix("[]")]
    ]
    return [*_own_properties(), *declared]


def _own_properties() -> list[Property]:
    return [
        Property(
            name=PROP_ID,
            data_type=DataType.TEXT,
            tokenization=Tokenization.FIELD,
            index_filterable=False,
            index_searchable=False,
        ),
        Property(
            name=PROP_PAYLOAD,
            data_type=DataType.TEXT,
            index_filterable=False,
            index_searchable=False,
        ),
        typed_property(PROP_PATHS, DataType.TEXT_ARRAY),
    ]


def number_term(value: float) -> tuple[Kind, float]:
    """Where a number is stored: doubles hold every float and every int they represent exactly;
    other ints (beyond 2**53) go to the int64 property, so they compare exactly."""
    if isinstance(value, float) or float(value) == value or not INT64_MIN <= value <= INT64_MAX:
        return "n", float(value)  # ints beyond int64 (JSON allows up to 2**64) are rounded
    return "i", value


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
