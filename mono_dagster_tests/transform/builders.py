"""Builders for transform tests: Mono objects in each API generation's shape, and the accounts table."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mono_dagster.transform import CanonicalBatch, build_raw_frame, to_canonical

ACCOUNT_ID = "66141b98e8d4a6001c0f7a11"
ACCOUNT_NUMBER = "0123456789"
OTHER_ACCOUNT_ID = "66141b98e8d4a6001c0f7a22"
OTHER_ACCOUNT_NUMBER = "2087654321"


def accounts_frame(**overrides: Any) -> pd.DataFrame:
    """Two linked GTBank/Access accounts in NGN; ``overrides`` replace columns of the first one."""
    first = {
        "account_id": ACCOUNT_ID,
        "account_number": ACCOUNT_NUMBER,
        "institution": "GTBank",
        "currency": "NGN",
    }
    first.update(overrides)
    second = {
        "account_id": OTHER_ACCOUNT_ID,
        "account_number": OTHER_ACCOUNT_NUMBER,
        "institution": "Access Bank",
        "currency": "NGN",
    }
    return pd.DataFrame([first, second])


def v2_transaction(**overrides: Any) -> dict[str, Any]:
    """A transaction as Mono's v2 API sends it: ``id``, no ``currency``."""
    obj: dict[str, Any] = {
        "id": "66141b98e8d4a6001c0f7b01",
        "narration": "NIP/TRF FROM ADEBAYO OLUWASEUN/GTB",
        "amount": 50000,
        "type": "credit",
        "balance": 150000,
        "date": "2023-12-14T00:02:00.500Z",
        "category": "transfer",
    }
    obj.update(overrides)
    return obj


def v1_transaction(**overrides: Any) -> dict[str, Any]:
    """A transaction as Mono's v1 API sends it: ``id`` and a per-transaction ``currency``."""
    obj: dict[str, Any] = {
        "id": "6520a2f1c9e77a0012ab3c01",
        "type": "credit",
        "amount": 9000,
        "narration": "POS PURCHASE @ SHOPRITE LEKKI",
        "date": "2023-10-06T18:08:50.000Z",
        "balance": 0,
        "currency": "NGN",
    }
    obj.update(overrides)
    return obj


def legacy_transaction(**overrides: Any) -> dict[str, Any]:
    """A transaction in the legacy (2020-2022) shape: ``_id`` instead of ``id``, legacy categories."""
    obj: dict[str, Any] = {
        "_id": "62a05b1f3c4d5e0012f0a001",
        "type": "debit",
        "amount": 147085,
        "narration": "ATM WDL 1023 ACCESS BANK IKEJA",
        "date": "2022-05-30T16:03:00.000Z",
        "balance": 1021841,
        "currency": "NGN",
        "category": "E-CHANNELS",
    }
    obj.update(overrides)
    return obj


def canonicalise(
    *objects: dict[str, Any],
    account_id: str = ACCOUNT_ID,
    raw_page_id: int = 1,
    accounts: pd.DataFrame | None = None,
) -> CanonicalBatch:
    """Run ``to_canonical`` over Mono objects that all belong to one account and page."""
    raw = build_raw_frame((account_id, raw_page_id, obj) for obj in objects)
    return to_canonical(raw, accounts_frame() if accounts is None else accounts)


def only_valid_row(*objects: dict[str, Any], **kwargs: Any) -> pd.Series:
    """The single canonical row of a batch that must have exactly one (and nothing quarantined)."""
    batch = canonicalise(*objects, **kwargs)
    assert batch.quarantined.empty, batch.quarantined["reason"].tolist()
    assert len(batch.valid) == 1
    return batch.valid.iloc[0]


def only_reason(obj: dict[str, Any], **kwargs: Any) -> str:
    """The reason of the single quarantined row a bad object must produce."""
    batch = canonicalise(obj, **kwargs)
    assert batch.valid.empty
    assert len(batch.quarantined) == 1
    return batch.quarantined["reason"].iloc[0]
