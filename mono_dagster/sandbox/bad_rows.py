"""Bad rows as Mono might send them: how a stored transaction is served instead of as it is stored.

A fault plan's ``served_as`` maps a stored transaction's id to the list of rows served in its place,
in order, each a *variant* (a JSON object, so the admin endpoint and a plan file can carry it):

- ``{}``: the transaction as stored;
- ``"from"``: start from another transaction of the same account instead (a copy of it, on this
  transaction's page: a duplicate id across pages);
- ``"set"``: fields served in place of the stored ones (``{"amount": "12,500"}``, ``{"currency": "XOF"}``);
- ``"drop"``: fields left out of the object, as if Mono omitted them (``["amount"]``, ``["id"]``);
- ``"pad"``: fields served as text of exactly this many characters, the stored text followed by ``X``
  (``{"narration": 1048576}``: a 1 MB narration without a 1 MB plan).

So ``[{}, {}]`` is an identical duplicate within a page, ``[{}, {"set": {"narration": "changed"}}]`` the
same id with different content, ``[{}, {"drop": ["id"]}]`` an extra row without an id, and ``[]`` leaves
the transaction out. Variants apply ``from``, then ``set``, ``drop`` and ``pad``. Only what is served
changes: the ledger and its balances stay as stored, so they remain the ground truth.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

VARIANT_KEYS = frozenset({"from", "set", "drop", "pad"})
MAX_PAD = 16 * 1024 * 1024  # characters: a body the sandbox can still build in well under a second
PAD_CHARACTER = "X"  # not a digit, so padding never looks like an account number to the masking

Row = dict[str, Any]


def check_served_as(served_as: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """``served_as`` validated and copied; a ValueError names the transaction and what is wrong."""
    if not isinstance(served_as, Mapping):
        raise ValueError("served_as must map transaction ids to lists of variants")
    checked: dict[str, list[dict[str, Any]]] = {}
    for txn_id, variants in served_as.items():
        if not isinstance(variants, list):
            raise ValueError(f"served_as[{txn_id!r}] must be a list of variants, not {type(variants).__name__}")
        checked[str(txn_id)] = [_check_variant(str(txn_id), variant) for variant in variants]
    return checked


def _check_variant(txn_id: str, variant: Any) -> dict[str, Any]:
    where = f"served_as[{txn_id!r}]"
    if not isinstance(variant, Mapping):
        raise ValueError(f"{where}: a variant must be an object, not {type(variant).__name__}")
    unknown = sorted(set(variant) - VARIANT_KEYS)
    if unknown:
        known = ", ".join(sorted(VARIANT_KEYS))
        raise ValueError(f"{where}: unknown variant keys {', '.join(unknown)}; known: {known}")
    source = variant.get("from")
    if source is not None and not isinstance(source, str):
        raise ValueError(f"{where}: 'from' must be a transaction id")
    fields = variant.get("set", {})
    if not isinstance(fields, Mapping) or not all(isinstance(name, str) for name in fields):
        raise ValueError(f"{where}: 'set' must map field names to values")
    drop = variant.get("drop", [])
    if not isinstance(drop, list) or not all(isinstance(name, str) for name in drop):
        raise ValueError(f"{where}: 'drop' must be a list of field names")
    pad = variant.get("pad", {})
    if not isinstance(pad, Mapping) or not all(
        isinstance(size, int) and not isinstance(size, bool) and 0 <= size <= MAX_PAD for size in pad.values()
    ):
        raise ValueError(f"{where}: 'pad' must map field names to lengths from 0 to {MAX_PAD}")
    return {**({"from": source} if source else {}), "set": dict(fields), "drop": list(drop), "pad": dict(pad)}


def referenced_ids(served_as: Mapping[str, list[dict[str, Any]]]) -> Iterable[tuple[str, str]]:
    """``(keyed transaction, transaction it names)`` pairs: the key itself and every ``from``."""
    for txn_id, variants in served_as.items():
        yield txn_id, txn_id
        for variant in variants:
            if "from" in variant:
                yield txn_id, variant["from"]


def served_rows(
    rows: list[Row],
    served_as: Mapping[str, list[dict[str, Any]]],
    stored: Callable[[str], Row | None],
) -> list[Row]:
    """``rows`` (stored transactions in serving order) with each keyed transaction replaced by its variants.

    ``stored(txn_id)`` finds a transaction of the same account for ``from``; one that is gone since the
    plan was set serves the keyed transaction instead.
    """
    out: list[Row] = []
    for row in rows:
        variants = served_as.get(row["id"])
        if variants is None:
            out.append(row)
            continue
        out.extend(_variant(row, variant, stored) for variant in variants)
    return out


def _variant(row: Row, variant: Mapping[str, Any], stored: Callable[[str], Row | None]) -> Row:
    base = stored(variant["from"]) if "from" in variant else row
    served = {**(base if base is not None else row), **variant.get("set", {})}
    for name in variant.get("drop", ()):
        served.pop(name, None)
    for name, size in variant.get("pad", {}).items():
        text = "" if served.get(name) is None else str(served[name])
        served[name] = text[:size] + PAD_CHARACTER * max(0, size - len(text))
    return served
