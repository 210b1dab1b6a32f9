"""Bounded input types: every number a request carries fits the database and JSON."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator, Field

MAX_INT32 = 2**31 - 1
MAX_INT64 = 2**63 - 1
MAX_JSON_DEPTH = 32
MAX_JSON_NODES = 20_000
MAX_JSON_KEY = 200

Int32 = Annotated[int, Field(ge=0, le=MAX_INT32)]
Id = Annotated[int, Field(ge=1, le=MAX_INT32)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Seconds = Annotated[float, Field(ge=0, le=10**9, allow_inf_nan=False)]


def check_json(value: Any, *, depth: int = MAX_JSON_DEPTH, nodes: int = MAX_JSON_NODES) -> Any:
    """Raise ValueError unless value is JSON that can be stored and read back unchanged.

    That is: at most `depth` levels of nesting and `nodes` values in all, finite floats only,
    integers within 64 bits and keys of at most MAX_JSON_KEY characters.
    """
    count = 0
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        node, level, where = stack.pop()
        count += 1
        if count > nodes:
            raise ValueError(f"at most {nodes:,} values in all")
        if level > depth:
            raise ValueError(f"nested more than {depth} levels deep (at {where or 'top'})")
        if isinstance(node, dict):
            for key, item in node.items():
                if len(key) > MAX_JSON_KEY:
                    raise ValueError(f"keys are at most {MAX_JSON_KEY} characters")
                stack.append((item, level + 1, f"{where}.{key}"[:100]))
        elif isinstance(node, list):
            stack.extend((item, level + 1, f"{where}[{i}]"[:100]) for i, item in enumerate(node))
        elif isinstance(node, float) and not math.isfinite(node):
            raise ValueError(f"NaN and Infinity are not allowed (at {where or 'top'})")
        elif isinstance(node, int) and not isinstance(node, bool) and abs(node) > MAX_INT64:
            raise ValueError(f"integers must fit in 64 bits (at {where or 'top'})")
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(check_json)]
