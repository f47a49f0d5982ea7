"""Raw Mono transactions → canonical TaxPoynt transactions, quarantined rows and a duplicate count.

This is the transform's entry point: pure pandas/numpy, no I/O, no Dagster. Every input row ends up in
exactly one place: ``valid``, ``quarantined`` or ``duplicates_dropped``. Every rule and derivation is a
column operation. What must touch each row runs in C: the SHA-1/SHA-256 of the two hashes (in list
comprehensions, the one per-row Python construct allowed) and C-level ``map``s that make ``Decimal``
objects, join a hash's pieces and measure lengths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mono_dagster.mono.responses import content_key
from mono_dagster.records import CANONICAL_COLUMNS, PROVIDER, RAW_TRANSACTION_FIELDS
from mono_dagster.transform.categories import normalise_categories
from mono_dagster.transform.channels import classify_channels
from mono_dagster.transform.dates import LAGOS, calendar_dates
from mono_dagster.transform.identity import content_hashes, transaction_ids
from mono_dagster.transform.masking import mask_digit_runs, mask_digit_runs_or_none
from mono_dagster.transform.money import to_decimals
from mono_dagster.transform.parsing import as_text, factorize, storable_text
from mono_dagster.transform.quarantine import quarantine_frame
from mono_dagster.transform.raw import ACCOUNT_COLUMNS, RAW_FRAME_COLUMNS, raw_page_ids, require_columns
from mono_dagster.transform.rules import ParsedRows, parse_rows


@dataclass(frozen=True)
class CanonicalBatch:
    """One batch's outcome: rows to store, rows to quarantine, and how many duplicates were dropped."""

    valid: pd.DataFrame  # columns exactly records.CANONICAL_COLUMNS
    quarantined: pd.DataFrame  # columns exactly records.QUARANTINE_COLUMNS
    duplicates_dropped: int

    @property
    def rows_in(self) -> int:
        """Input rows accounted for: always ``len(raw)``."""
        return len(self.valid) + len(self.quarantined) + self.duplicates_dropped


def to_canonical(raw: pd.DataFrame, accounts: pd.DataFrame) -> CanonicalBatch:
    """Canonicalise a raw frame (see `raw.build_raw_frame`) against the accounts it refers to.

    Rows sharing ``(account_id, id)`` and the same content (`mono.responses.content_key`) are one
    transaction: the last copy is kept and the others are counted, not stored. Copies of an id with
    different content are a conflict no rule can settle (within one batch no copy is Mono's newer word),
    so every distinct version is quarantined naming ``id``. Rows without an id are each quarantined.
    """
    require_columns(raw, RAW_FRAME_COLUMNS, "raw")
    require_columns(accounts, ACCOUNT_COLUMNS, "accounts")
    if not raw.index.equals(pd.RangeIndex(len(raw))):
        raw = raw.reset_index(drop=True)
    page_ids = raw_page_ids(raw)
    keys = pd.DataFrame({"account_id": as_text(raw["account_id"]), "id": as_text(raw["id"])})
    superseded, conflicting = _duplicates(raw, keys["account_id"], keys["id"])
    rows, page_ids, keys = (_take(frame, ~superseded) for frame in (raw, page_ids, keys))

    parsed = parse_rows(rows, accounts, keys["account_id"], keys["id"], conflicting[~superseded])
    failed = parsed.failed
    quarantined = quarantine_frame(
        rows, parsed.failures, failed, parsed.account_id, parsed.provider_transaction_id, page_ids
    )
    valid = _canonical_frame(parsed, ~failed, page_ids)
    return CanonicalBatch(valid=valid, quarantined=quarantined, duplicates_dropped=int(superseded.sum()))


def _canonical_frame(parsed: ParsedRows, keep: np.ndarray, page_ids: pd.Series) -> pd.DataFrame:
    account_id = _take(parsed.account_id, keep)
    provider_transaction_id = _take(parsed.provider_transaction_id, keep)
    posted_at = _take(parsed.posted_at, keep)
    direction = _take(parsed.direction, keep)
    currency = _take(parsed.currency, keep)
    balance = _take(parsed.balance_after_minor, keep)
    narration = _take(parsed.narration, keep)
    provider_category = _take(parsed.provider_category, keep)
    amount_minor = parsed.amount_minor[keep]
    debit = direction.to_numpy() == "debit"
    signed_amount_minor = np.where(debit, -amount_minor, amount_minor)
    amount = to_decimals(amount_minor, parsed.exponent[keep])
    narration_text = narration.fillna("")
    # Mono's free text is stored masked; the content hash below still sees what Mono sent.
    provider_category_masked = storable_text(mask_digit_runs_or_none(provider_category))

    columns = {
        "transaction_id": transaction_ids(account_id, provider_transaction_id),
        "provider": np.full(len(account_id), PROVIDER, dtype=object),
        "account_id": storable_text(account_id),
        "provider_transaction_id": storable_text(provider_transaction_id),
        "account_number_masked": _take(parsed.account_number_masked, keep),
        "institution": storable_text(_take(parsed.institution, keep)),
        "posted_at": posted_at,
        "posted_date": calendar_dates(posted_at),
        "posted_date_lagos": calendar_dates(posted_at.dt.tz_convert(LAGOS)),
        "direction": direction,
        "amount_minor": amount_minor,
        "amount": amount,
        "signed_amount_minor": signed_amount_minor,
        "signed_amount": _negated_where(amount, debit),
        "currency": currency,
        "balance_after_minor": balance,
        "narration": storable_text(mask_digit_runs(narration_text)),
        "category": normalise_categories(provider_category_masked),
        "provider_category": provider_category_masked,
        "channel": classify_channels(narration_text),
        "content_hash": content_hashes(
            provider_transaction_id=provider_transaction_id,
            account_id=account_id,
            posted_at=posted_at,
            direction=direction,
            amount_minor=amount_minor,
            currency=currency,
            balance_after_minor=balance,
            narration=narration,
            provider_category=provider_category,
        ),
        "raw_page_id": page_ids[keep].to_numpy(dtype=np.int64),
    }
    # Every Series here has the same RangeIndex as the arrays' positions, so nothing is realigned; and
    # copy=False keeps one block per column (consolidating 15 object columns would cost ~40 ms a batch).
    return pd.DataFrame(columns, columns=list(CANONICAL_COLUMNS), copy=False)


def _duplicates(
    raw: pd.DataFrame, account_id: pd.Series, provider_transaction_id: pd.Series
) -> tuple[np.ndarray, np.ndarray]:
    """``(superseded, conflicting)`` masks over the batch.

    Superseded: a row whose (account, Mono id, content) occurs again later. Conflicting: a row whose
    (account, Mono id) occurs with another content too. Rows without an id are neither.
    """
    superseded = np.zeros(len(account_id), dtype=bool)
    conflicting = np.zeros(len(account_id), dtype=bool)
    # Only an id seen twice can be a duplicate (usually none are): pair them up for those rows alone.
    repeated = np.flatnonzero(
        provider_transaction_id.duplicated(keep=False).to_numpy() & provider_transaction_id.notna().to_numpy()
    )
    if not len(repeated):
        return superseded, conflicting
    # One int64 key per pair: `DataFrame.duplicated` on text shares pandas' NUL blind spot.
    account_codes, _ = factorize(account_id.iloc[repeated])
    id_codes, ids = factorize(provider_transaction_id.iloc[repeated])
    pair = account_codes.astype(np.int64) * (len(ids) + 1) + id_codes
    fields = [name for name in RAW_TRANSACTION_FIELDS if name != "id"]
    objects = raw[fields].iloc[repeated].to_dict("records")
    content_codes, _ = factorize(np.array([content_key(obj) for obj in objects], dtype=object))
    copies = pd.DataFrame({"pair": pair, "content": content_codes.astype(np.int64)})
    superseded[repeated] = copies.duplicated(keep="last").to_numpy()
    versions = copies.drop_duplicates().groupby("pair").size()
    conflicting[repeated] = copies["pair"].map(versions).to_numpy() > 1
    return superseded, conflicting


def _negated_where(values: np.ndarray, negate: np.ndarray) -> np.ndarray:
    """A copy of an object array with the ``negate`` rows negated (Decimal negation is exact)."""
    signed = values.copy()
    signed[negate] = -values[negate]
    return signed


def _take(values: pd.DataFrame | pd.Series, keep: np.ndarray) -> pd.DataFrame | pd.Series:
    """Rows where ``keep``, renumbered; no copy when every row is kept (the usual case)."""
    if keep.all():
        return values
    return values[keep].reset_index(drop=True)
