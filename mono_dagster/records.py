"""The record contracts shared by the transform and storage layers: column names, in order.

This module holds names only (no pandas, no SQLAlchemy), so both layers can import it without
importing each other. `docs/canonical_schema.md` documents every column.
"""

from __future__ import annotations

PROVIDER = "mono"

# Columns of a canonical TaxPoynt transaction, in the order the transform emits them and the
# `canonical_transactions` stage and `bank_transactions` tables store them.
CANONICAL_COLUMNS: tuple[str, ...] = (
    "transaction_id",  # UUIDv5 of provider, account id and Mono id: deterministic across reruns
    "provider",  # always "mono"
    "account_id",  # Mono account id
    "provider_transaction_id",  # Mono's transaction id (`id`, or `_id` in the legacy shape)
    "account_number_masked",  # "******1234": last four digits only
    "institution",  # bank name, e.g. "GTBank"
    "posted_at",  # UTC timestamp of Mono's `date`
    "posted_date",  # UTC calendar date: the partition date (what Mono's start/end select)
    "posted_date_lagos",  # Africa/Lagos calendar date: what tax periods use
    "direction",  # "debit" | "credit"
    "amount_minor",  # positive integer in minor units (kobo for NGN)
    "amount",  # decimal amount in major units (amount_minor / 10**exponent)
    "signed_amount_minor",  # negative for debits
    "signed_amount",  # decimal, negative for debits
    "currency",  # ISO 4217 code
    "balance_after_minor",  # running balance after the transaction, minor units (nullable)
    "narration",  # bank narration as Mono gave it
    "category",  # normalised category (snake_case, "uncategorised" when Mono has none)
    "provider_category",  # Mono's category as given (nullable)
    "channel",  # NIP, POS, ATM, USSD, WEB, AIRTIME, CHARGE, TRANSFER or OTHER, parsed from the narration
    "content_hash",  # sha256 hex over the business fields: changes exactly when Mono changes the row
    "raw_page_id",  # lineage: id of the `mono_raw_pages` row the transaction came from
)

# Columns of a quarantined row.
QUARANTINE_COLUMNS: tuple[str, ...] = (
    "account_id",
    "provider_transaction_id",  # may be null when Mono sent no id
    "reason",  # "<field>: <what is wrong> (<masked value>)"
    "raw_record",  # the Mono object as JSON text, PII masked
    "raw_page_id",
)

# The Mono fields a raw frame carries, one row per transaction, beside `account_id` and `raw_page_id`.
RAW_TRANSACTION_FIELDS: tuple[str, ...] = (
    "id",
    "type",
    "amount",
    "narration",
    "date",
    "balance",
    "currency",
    "category",
)
