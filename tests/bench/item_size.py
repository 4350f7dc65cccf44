"""DynamoDB's item size rules, applied to an item in the low-level wire format ({"S": ...}).

From the DynamoDB developer guide ("Item sizes and formats"):
  - an item is the sum of its attributes: UTF-8 bytes of the name + the size of the value;
  - String: UTF-8 bytes; Binary: raw bytes; Boolean and Null: 1 byte;
  - Number: about 1 byte per two significant digits, plus 1 byte (plus 1 if negative);
  - List and Map: 3 bytes, plus 1 byte per element, plus the elements (a map's keys count as
    attribute names);
  - String, Number and Binary sets: the sum of their elements.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any


def item_bytes(item: Mapping[str, Any]) -> int:
    """The size DynamoDB charges for `item` (wire format, as boto3's client returns it)."""
    return sum(attribute_bytes(name, value) for name, value in item.items())


def attribute_bytes(name: str, value: Mapping[str, Any]) -> int:
    """One attribute: its name and its value."""
    return len(name.encode()) + value_bytes(value)


def value_bytes(value: Mapping[str, Any]) -> int:
    """One typed value, e.g. {"S": "x"} or {"M": {...}}."""
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return number_bytes(data)
    if kind == "B":
        return len(_raw(data))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in data)
    if kind == "NS":
        return sum(number_bytes(n) for n in data)
    if kind == "BS":
        return sum(len(_raw(b)) for b in data)
    if kind == "M":
        return 3 + sum(1 + attribute_bytes(k, v) for k, v in data.items())
    if kind == "L":
        return 3 + sum(1 + value_bytes(v) for v in data)
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def number_bytes(text: str) -> int:
    """(significant digits / 2, rounded up) + 1, and 1 more for a negative number."""
    negative = text.startswith("-")
    mantissa = text.lstrip("+-").lower().split("e", 1)[0]
    # Leading and trailing zeros are not significant (DynamoDB keeps them as an exponent).
    digits = mantissa.replace(".", "").strip("0")
    significant = max(len(digits), 1)
    return (significant + 1) // 2 + 1 + (1 if negative else 0)


def largest_attributes(item: Mapping[str, Any], n: int = 5) -> list[tuple[str, int]]:
    """The `n` attributes that take the most bytes, largest first."""
    sizes = [(name, attribute_bytes(name, value)) for name, value in item.items()]
    return sorted(sizes, key=lambda pair: -pair[1])[:n]


def _raw(data: Any) -> bytes:
    # boto3's client returns bytes; a JSON dump of the wire format would carry base64 text.
    return bytes(data) if isinstance(data, (bytes, bytearray)) else base64.b64decode(data)
