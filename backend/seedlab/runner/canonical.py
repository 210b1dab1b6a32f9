"""Content hash of a fingerprint (both sides use it; TF-free)."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def fingerprint_hash(data: dict[str, Any]) -> str:
    """sha256 of the canonical JSON form (sorted keys, no spaces) of the fingerprint data."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
