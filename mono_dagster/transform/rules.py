"""The row-level rules: parse each Mono field and say which rows fail and why.

Every rule is a boolean mask over the whole batch, never a per-row branch. A failing row is quarantined
with every reason that applies, so one look at a quarantined row tells all that is wrong with it. The
rules, in the order their reasons are written:

- ``id``: missing (null or blank), holds a NUL character, or repeated with different content (the
  caller finds the repeats: `canonical._duplicates`).
- ``account_id``: missing, or not in the accounts table.
- ``type``: missing, or not ``debit``/``credit`` (any case).
- ``amount``: missing, or not a positive integer (fraction, zero, negative, non-number, beyond 2**53).
- ``date``: missing, or not an ISO-8601 date-time starting ``YYYY-MM-DD``.
- ``currency``: not in `money.MINOR_UNIT_EXPONENTS` (after falling back to the account's currency).
- ``balance``: present but not an integer (a wrong balance would poison reconciliation silently).
- ``narration``: longer than `MAX_NARRATION_CHARACTERS`, or holds a NUL character.
- ``category``: holds a NUL character.

Emoji, quotes, backslashes and other text are data, never a reason. NUL is: Postgres text cannot
hold it, no bank writes it, and replacing it would store something Mono did not send.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mono_dagster.transform.dates import parse_timestamps
from mono_dagster.transform.masking import mask_account_numbers
from mono_dagster.transform.money import DEFAULT_CURRENCY, MINOR_UNIT_EXPONENTS
from mono_dagster.transform.parsing import as_text, holds_nul, is_missing, normalise_distinct, parse_integers

DIRECTIONS = ("debit", "credit")
# Bank narrations are short (NIP allows ~100 characters); past this a "narration" is garbage from the
# bank or Mono, and storing or cutting it would put text in the ledger that no statement shows.
MAX_NARRATION_CHARACTERS = 4096


@dataclass(frozen=True)
class Failure:
    """One rule's failing rows: the reason is ``"<field>: <problem> (<masked sample of values>)"``."""

    field: str
    problem: str
    rows: np.ndarray  # bool mask over the batch
    values: pd.Series | None = None  # the offending values, sampled (masked) into the reason


@dataclass(frozen=True)
class ParsedRows:
    """Every field of every row parsed, aligned with the batch; meaningful only where not `failed`."""

    account_id: pd.Series  # str | None
    provider_transaction_id: pd.Series  # str | None
    account_number_masked: pd.Series
    institution: pd.Series  # str | None
    direction: pd.Series  # "debit" | "credit" | other str | None
    amount_minor: np.ndarray  # int64
    posted_at: pd.Series  # datetime64[ns, UTC], NaT when unparseable
    currency: pd.Series  # upper-case str
    exponent: np.ndarray  # int64, -1 when the currency is unknown
    balance_after_minor: pd.Series  # Int64
    narration: pd.Series  # str | None, exactly as Mono sent it
    provider_category: pd.Series  # str | None
    failures: tuple[Failure, ...]

    @property
    def failed(self) -> np.ndarray:
        """Rows that break at least one rule."""
        failed = np.zeros(len(self.account_id), dtype=bool)
        for failure in self.failures:
            failed |= failure.rows
        return failed


def parse_rows(
    rows: pd.DataFrame,
    accounts: pd.DataFrame,
    account_id: pd.Series,
    provider_transaction_id: pd.Series,
    conflicting: np.ndarray | None = None,
) -> ParsedRows:
    """Parse a deduplicated raw frame (RangeIndex) against the accounts table and apply every rule.

    ``account_id`` and ``provider_transaction_id`` are the rows' keys as `parsing.as_text` made them;
    ``conflicting`` marks rows whose id the batch holds with different content.
    """
    known, account_number_masked, institution, account_currency = _lookup_accounts(account_id, accounts)

    direction = normalise_distinct(rows["type"], lambda types: types.str.strip().str.lower())
    amount_minor, amount_is_integer = parse_integers(rows["amount"])
    posted_at = parse_timestamps(rows["date"])
    balance, balance_is_integer = parse_integers(rows["balance"])
    balance_missing = _missing_among(rows["balance"], ~balance_is_integer)
    currency = normalise_distinct(rows["currency"], lambda codes: codes.str.strip().str.upper())
    currency = currency.fillna(account_currency).fillna(DEFAULT_CURRENCY)
    exponent = currency.map(MINOR_UNIT_EXPONENTS).fillna(-1).to_numpy(dtype=np.int64)

    id_missing = provider_transaction_id.isna().to_numpy()
    if conflicting is None:
        conflicting = np.zeros(len(rows), dtype=bool)
    narration = as_text_or_empty(rows["narration"])
    provider_category = as_text_or_empty(rows["category"])
    narration_length = _lengths(narration)
    narration_too_long = narration_length > MAX_NARRATION_CHARACTERS
    account_missing = account_id.isna().to_numpy()
    type_missing = direction.isna().to_numpy()
    amount_missing = _missing_among(rows["amount"], ~amount_is_integer)
    date_missing = _missing_among(rows["date"], posted_at.isna().to_numpy())
    failures = (
        Failure("id", "missing", id_missing),
        Failure("id", "holds a NUL character", holds_nul(provider_transaction_id.to_numpy(dtype=object))),
        Failure("id", "repeated with different content", conflicting & ~id_missing),
        Failure("account_id", "missing", account_missing),
        Failure("account_id", "not in the accounts table", ~account_missing & ~known, rows["account_id"]),
        Failure("type", "missing", type_missing),
        Failure(
            "type",
            "not debit or credit",
            ~type_missing & ~direction.isin(DIRECTIONS).to_numpy(),
            rows["type"],
        ),
        Failure("amount", "missing", amount_missing),
        Failure(
            "amount",
            "not a positive integer",
            ~amount_missing & ~(amount_is_integer & (amount_minor > 0)),
            rows["amount"],
        ),
        Failure("date", "missing", date_missing),
        Failure("date", "not an ISO-8601 date-time", ~date_missing & posted_at.isna().to_numpy(), rows["date"]),
        Failure("currency", "unknown ISO 4217 code", exponent < 0, currency),
        Failure("balance", "not an integer", ~balance_missing & ~balance_is_integer, rows["balance"]),
        Failure(
            "narration",
            f"longer than {MAX_NARRATION_CHARACTERS} characters",
            narration_too_long,
            _length_samples(narration_length) if narration_too_long.any() else None,
        ),
        Failure("narration", "holds a NUL character", holds_nul(narration.to_numpy(dtype=object))),
        Failure("category", "holds a NUL character", holds_nul(provider_category.to_numpy(dtype=object))),
    )
    return ParsedRows(
        account_id=account_id,
        provider_transaction_id=provider_transaction_id,
        account_number_masked=account_number_masked,
        institution=institution,
        direction=direction,
        amount_minor=amount_minor,
        posted_at=posted_at,
        currency=currency,
        exponent=exponent,
        balance_after_minor=pd.Series(balance, dtype="Int64").mask(~balance_is_integer),
        narration=narration,
        provider_category=provider_category,
        failures=failures,
    )


def _missing_among(values: pd.Series, unparsed: np.ndarray) -> np.ndarray:
    """Where a value is missing; only rows that failed to parse can be, so only they are looked at."""
    missing = np.zeros(len(values), dtype=bool)
    if unparsed.any():
        missing[unparsed] = is_missing(values[unparsed])
    return missing


def _length_samples(lengths: np.ndarray) -> pd.Series:
    return pd.Series(lengths, dtype=np.int64).astype(str) + " characters"


def _lengths(text: pd.Series) -> np.ndarray:
    """Characters in each str value (0 for None), counted in C."""
    values = text.to_numpy(dtype=object)
    try:  # the usual batch: every narration present
        return np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    except TypeError:  # some are None
        pass
    present = text.notna().to_numpy()
    lengths = np.zeros(len(values), dtype=np.int64)
    lengths[present] = np.fromiter(map(len, values[present]), dtype=np.int64, count=int(present.sum()))
    return lengths


def as_text_or_empty(values: pd.Series) -> pd.Series:
    """Each value as str, None only where it is null (blank text stays as it was)."""
    text = values.astype(str).astype(object)
    text[values.isna().to_numpy()] = None
    return text


def _lookup_accounts(
    account_id: pd.Series, accounts: pd.DataFrame
) -> tuple[np.ndarray, pd.Series, pd.Series, pd.Series]:
    # Mask on the (small) accounts table first, so the full number is never spread over the rows.
    table = pd.DataFrame(
        {
            "account_id": as_text(accounts["account_id"]),
            "masked": mask_account_numbers(accounts["account_number"]),
            "institution": as_text_or_empty(accounts["institution"]),
            "currency": as_text(accounts["currency"]).str.strip().str.upper(),
        }
    )
    table = table.dropna(subset=["account_id"]).drop_duplicates("account_id", keep="last")
    positions = pd.Index(table["account_id"]).get_indexer(account_id)
    known = positions >= 0

    def spread(column: str) -> pd.Series:
        values = np.full(len(positions), None, dtype=object)
        values[known] = table[column].to_numpy(dtype=object)[positions[known]]
        return pd.Series(values, index=account_id.index, dtype=object)

    return known, spread("masked"), spread("institution"), spread("currency")
