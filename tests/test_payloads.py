"""The JSON value model of payloads: what is converted, what is refused (naming the path), and
the copies that keep stored payloads private."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import uuid
from collections import OrderedDict
from typing import Any

import numpy as np
import pytest

from edgevec import InvalidInputError
from edgevec.payloads import MAX_DEPTH, canonical_payload, copy_payload, int_range

INT64 = int_range(64)


class Color(enum.Enum):
    RED = "red"


class Size(enum.IntEnum):
    S = 1


class Text(str):
    """A str subclass: stored as the plain str."""


@dataclasses.dataclass
class Point:
    x: int


def test_json_values_are_copied_unchanged() -> None:
    payload: dict[str, Any] = {
        "s": "héllo ✓", "i": -(2**63), "j": 2**63 - 1, "f": -0.0, "b": False, "n": None,
        "l": [1, [2.5, {"k": "v"}], []], "d": {"e": {}},
    }  # fmt: skip
    out = canonical_payload(payload, 0, INT64)
    assert out == payload
    assert out is not payload
    assert out["l"] is not payload["l"]
    assert out["d"]["e"] is not payload["d"]["e"]


def test_near_json_values_become_json() -> None:
    out = canonical_payload(
        OrderedDict(
            t=(1, (2, "x")),
            i=np.int32(7),
            u=np.uint64(2**63 - 1),
            f=np.float32(0.5),
            b=np.bool_(True),
            s=np.str_("np"),
            sub=Text("plain"),
            m={"inner": np.float64(1.5)},
        ),
        0,
        INT64,
    )
    assert out == {
        "t": [1, [2, "x"]], "i": 7, "u": 2**63 - 1, "f": 0.5, "b": True, "s": "np",
        "sub": "plain", "m": {"inner": 1.5},
    }  # fmt: skip
    assert [type(out[k]) for k in ("t", "i", "u", "f", "b", "s", "sub")] == [
        list, int, int, float, bool, str, str,
    ]  # fmt: skip
    assert type(out) is dict
    assert type(out["m"]["inner"]) is float


@pytest.mark.parametrize(
    ("value", "path", "reason"),
    [
        ({"d": datetime.datetime(2024, 5, 1)}, "['d']", "datetime is not a JSON value"),
        ({"d": datetime.date(2024, 5, 1)}, "['d']", "date is not a JSON value"),
        ({"u": uuid.UUID(int=1)}, "['u']", "UUID is not a JSON value"),
        ({"e": Color.RED}, "['e']", "store its .value"),
        ({"e": [Size.S]}, "['e'][0]", "store its .value"),
        ({"p": Point(1)}, "['p']", "Point is not a JSON value"),
        ({"b": b"raw"}, "['b']", "bytes is not a JSON value"),
        ({"s": {1}}, "['s']", "set is not a JSON value"),
        ({"a": np.zeros(2)}, "['a']", "ndarray is not a JSON value"),
        ({"t": np.datetime64("2024-01-01")}, "['t']", "date is not a JSON value"),
        ({"m": {"k": {3: "x"}}}, "['m']['k']", "keys must be str"),
        ({"f": [1.0, float("nan")]}, "['f'][1]", "NaN and Inf"),
        ({"f": float("-inf")}, "['f']", "NaN and Inf"),
        ({"f": np.float32("inf")}, "['f']", "NaN and Inf"),
        ({"i": 2**63}, "['i']", "outside"),
        ({"i": -(2**63) - 1}, "['i']", "outside"),
        ({"s": "lone \ud800"}, "['s']", "not valid Unicode"),
        ({"\udfff": 1}, "", "not valid Unicode"),
    ],
)
def test_values_outside_the_model_name_record_and_path(
    value: dict[Any, Any], path: str, reason: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        canonical_payload(value, 4, INT64)
    message = str(info.value)
    assert message.startswith(f"payload #4 is not JSON: payload{path}: "), message
    assert reason in message


def test_not_a_mapping_and_none() -> None:
    assert canonical_payload(None, 0, INT64) == {}
    with pytest.raises(InvalidInputError, match="must be a mapping"):
        canonical_payload(["a"], 0, INT64)  # type: ignore[arg-type]


def test_exact_int_range_of_double_backends() -> None:
    doubles = int_range(53)
    assert canonical_payload({"n": 2**53, "m": -(2**53)}, 0, doubles) == {
        "n": 2**53, "m": -(2**53),
    }  # fmt: skip
    for bad in (2**53 + 1, -(2**53) - 1, np.int64(2**60)):
        with pytest.raises(InvalidInputError, match=r"payload\['n'\]: int"):
            canonical_payload({"n": bad}, 0, doubles)


def test_nesting_is_bounded() -> None:
    ok: Any = 1
    for _ in range(MAX_DEPTH - 1):
        ok = [ok]
    assert canonical_payload({"x": ok}, 0, INT64) == {"x": ok}
    deep: Any = 1
    for _ in range(5000):  # far past the recursion limit: a typed error, not RecursionError
        deep = {"k": deep}
    with pytest.raises(InvalidInputError, match="nested deeper"):
        canonical_payload(deep, 0, INT64)


def test_copy_payload_is_deep() -> None:
    stored: dict[str, Any] = {"a": [1, {"b": [2]}], "c": {"d": 1}, "e": "x"}
    out = copy_payload(stored)
    out["a"][1]["b"].append(3)
    out["c"]["d"] = 2
    assert stored == {"a": [1, {"b": [2]}], "c": {"d": 1}, "e": "x"}
    assert copy_payload(None) == {}
