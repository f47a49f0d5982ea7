"""Walks every page of one account's window, defending against Mono's paging quirks.

Rules (mono_api.md §1.4, §9; peers.md §5.2):
- each page is requested by number with the original filters; `next` only says whether and where to go;
- a page number that does not increase, or more pages than `total` allows, is an error, not a loop;
- an id repeated with the same content (`responses.content_key`) is kept once (the first copy); a
  copy with different content is kept too, so the transform sees the conflict instead of this walk
  silently choosing a version;
- if `total` changes while paging (new transactions shift the pages), the window restarts once;
  a second change is an error, so the caller retries later instead of persisting a torn walk.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mono_dagster.mono.errors import MonoPaginationError
from mono_dagster.mono.responses import MonoPage, content_key, transaction_id


@dataclass
class WindowWalk:
    pages: list[MonoPage] = field(default_factory=list)
    transactions: list[dict[str, Any]] = field(default_factory=list)
    page_of_transaction: list[int] = field(default_factory=list)  # index into `pages`
    duplicates_dropped: int = 0
    restarts: int = 0
    total_reported: int | None = None


def walk_window(
    fetch_page: Callable[[int], MonoPage],
    *,
    page_size: int,
    max_pages: int = 10_000,
    max_restarts: int = 1,
) -> WindowWalk:
    restarts = 0
    while True:
        walk = _walk_once(fetch_page, page_size=page_size, max_pages=max_pages)
        if walk is not None:
            walk.restarts = restarts
            return walk
        restarts += 1
        if restarts > max_restarts:
            raise MonoPaginationError(
                f"Mono's total kept changing while paging ({restarts} walks); try the window again later"
            )


def _walk_once(fetch_page: Callable[[int], MonoPage], *, page_size: int, max_pages: int) -> WindowWalk | None:
    """One walk from page 1; None when `total` changed underneath it."""
    walk = WindowWalk()
    first_copy: dict[str, dict[str, Any]] = {}  # Mono id -> the copy kept first
    contents: dict[str, set[str]] = {}  # Mono id seen twice -> content keys of the copies kept
    page_number = 1
    page_budget = max_pages
    while True:
        page = fetch_page(page_number)
        if walk.pages and page.total is not None and page.total != walk.total_reported:
            return None
        if not walk.pages:
            walk.total_reported = page.total
            if page.total is not None:
                # Mono's own total bounds the walk; one page of slack for a shape that over-reports.
                page_budget = min(max_pages, math.ceil(page.total / max(page_size, 1)) + 1)
        walk.pages.append(page)
        page_index = len(walk.pages) - 1
        for transaction in page.transactions:
            key = transaction_id(transaction)
            if key is not None:
                if key not in first_copy:
                    first_copy[key] = transaction
                else:  # repeats are rare: only they pay for comparing contents
                    kept = contents.setdefault(key, {content_key(first_copy[key])})
                    content = content_key(transaction)
                    if content in kept:
                        walk.duplicates_dropped += 1
                        continue
                    kept.add(content)
            walk.transactions.append(transaction)
            walk.page_of_transaction.append(page_index)
        if not page.has_next or not page.transactions:
            return walk
        if page.next_page is not None and page.next_page <= page_number:
            raise MonoPaginationError(f"Mono's next page ({page.next_page}) does not come after page {page_number}")
        if len(walk.pages) >= page_budget:
            raise MonoPaginationError(
                f"still paging after {len(walk.pages)} pages of {page_size} "
                f"(Mono reported total={walk.total_reported}); refusing an endless walk"
            )
        page_number += 1
