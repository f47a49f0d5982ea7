"""Cuts a newest-first result list into Mono's numbered pages, with the duplicate-across-pages fault.

With `duplicate_across_pages`, page N+1 opens with page N's last row again (seen on real paginated
APIs when rows shift between requests); page boundaries and `total` are otherwise unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PageSlice:
    rows: list[dict[str, Any]]
    total: int
    page: int
    has_previous: bool
    has_next: bool


def slice_page(
    items: list[dict[str, Any]],
    *,
    page: int,
    limit: int,
    paginate: bool,
    duplicate_across_pages: bool = False,
) -> PageSlice:
    total = len(items)
    if not paginate:
        return PageSlice(items, total, 1, has_previous=False, has_next=False)
    first = (page - 1) * limit
    rows = items[first : first + limit]
    if duplicate_across_pages and page > 1 and rows:
        rows = [items[first - 1], *rows]
    return PageSlice(rows, total, page, has_previous=page > 1, has_next=first + limit < total)
