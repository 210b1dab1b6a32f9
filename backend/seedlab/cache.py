"""Results that never change once computed, kept per application and cleared through one call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seedlab.lru import LruCache


@dataclass
class ResultCache:
    """The server's in-memory caches; the app owns one (`app.state.cache`)."""

    # A finished job's overlay never changes (points are fenced to running attempts): a page view
    # or a metric switch on a 100-run job then skips the query. Key: (job, finished_at, options).
    overlays: LruCache[tuple[Any, ...], dict[str, Any]] = field(
        default_factory=lambda: LruCache(32)
    )
    # An audit section only changes when one of the job's runs changes status, so the live page's
    # polls reuse it instead of re-reading traces. Key: (job, (run, status, attempt)...).
    audit_sections: LruCache[tuple[Any, ...], dict[str, Any]] = field(
        default_factory=lambda: LruCache(32)
    )
    # A trace is written once, when its run succeeds, so a pair's first divergence never
    # changes: the live job page parses each pair's traces once. Key: (run A, run B).
    divergences: LruCache[tuple[int, int], Any] = field(default_factory=lambda: LruCache(1024))

    # A finished job's report (and its runs' environment variation) never changes: every run has
    # ended and traces are written once. The job page of a 1,000-run job then skips loading and
    # comparing its runs on each view. Key: (job, finished_at).
    reports: LruCache[tuple[Any, ...], Any] = field(default_factory=lambda: LruCache(16))
    variations: LruCache[tuple[Any, ...], Any] = field(default_factory=lambda: LruCache(16))

    def clear(self) -> None:
        """Forget every cached result (tests; a restored database)."""
        self.overlays.clear()
        self.audit_sections.clear()
        self.divergences.clear()
        self.reports.clear()
        self.variations.clear()
