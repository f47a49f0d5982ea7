"""Registering Mono accounts in the account registry: discovered from `GET /v2/accounts` or given by id."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from mono_dagster.mono import MonoClient, MonoNotFoundError, operations
from mono_dagster.mono.account_ids import describe_value, is_valid_account_id, validate_account_ids
from mono_dagster.mono.client import AccountDetails
from mono_dagster.storage.accounts import (
    AccountRecord,
    AccountRow,
    list_accounts,
    mask_account_number,
    register_accounts,
    set_account_status,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Registration:
    records: tuple[AccountRecord, ...]
    new_ids: tuple[str, ...]


def _record(details: AccountDetails, tenant: str) -> AccountRecord:
    return AccountRecord(
        account_id=details.account_id,
        tenant=tenant,
        account_number_masked=mask_account_number(details.account_number),
        institution=details.institution,
        currency=details.currency,
    )


def _summary_record(summary: dict[str, Any], tenant: str) -> AccountRecord | None:
    """A listed account carries enough to register it when it has its number and bank; else None."""
    institution = summary.get("institution") if isinstance(summary.get("institution"), dict) else {}
    number = summary.get("account_number") or summary.get("accountNumber")
    account_id = summary.get("id") or summary.get("_id")
    if not account_id or not number or not institution.get("name"):
        return None
    return AccountRecord(
        account_id=str(account_id),
        tenant=tenant,
        account_number_masked=mask_account_number(number),
        institution=institution.get("name"),
        currency=str(summary.get("currency") or "NGN").upper(),
    )


def discover_accounts(client: MonoClient, engine: Engine, *, shard_count: int, tenant: str = "default") -> Registration:
    """Registers every account `GET /v2/accounts` lists (details fetched only when the listing lacks them)."""
    records, _ = _listed_records(client, tenant)
    return _register(engine, records, shard_count)


def _listed_records(
    client: MonoClient,
    tenant: str,
    allow: frozenset[str] = frozenset(),
    deny: frozenset[str] = frozenset(),
) -> tuple[list[AccountRecord], set[str]]:
    """Records of the listed accounts that pass the allow/deny lists, and every id Mono listed."""
    records: list[AccountRecord] = []
    listed: set[str] = set()
    for summary in client.list_accounts():
        account_id = str(summary.get("id") or summary.get("_id") or "")
        listed.add(account_id)
        if not account_id or account_id in deny or (allow and account_id not in allow):
            continue
        if not is_valid_account_id(account_id):
            # Never registered, so never put in a URL; the rest of the listing still registers.
            log.warning("skipped a listed account: %s is not a Mono account id", describe_value(account_id))
            continue
        records.append(_summary_record(summary, tenant) or _record(client.get_account(account_id), tenant))
    return records, listed


def add_accounts(
    client: MonoClient,
    engine: Engine,
    account_ids: Sequence[str],
    *,
    shard_count: int,
    tenant: str = "default",
) -> Registration:
    """Registers the given ids after checking each with Mono; all or none.

    Every id is validated before any request (InvalidAccountIdError), and every one is looked up before
    anything is registered: ids Mono does not know are named together in one MonoNotFoundError.
    """
    ids = validate_account_ids(account_ids)
    records: list[AccountRecord] = []
    unknown: list[str] = []
    for account_id in ids:
        try:
            records.append(_record(client.get_account(account_id), tenant))
        except MonoNotFoundError:
            unknown.append(account_id)
    if unknown:
        raise MonoNotFoundError(
            f"Account not found at Mono: {', '.join(unknown)}; nothing was registered or synced",
            operation=operations.GET_ACCOUNT,
        )
    return _register(engine, records, shard_count)


def accounts_by_shard(rows: Iterable[AccountRow]) -> dict[int, tuple[str, ...]]:
    """The accounts of each shard, in the rows' order: each shard's run is given only its own."""
    grouped: dict[int, list[str]] = {}
    for row in rows:
        grouped.setdefault(row.shard, []).append(row.account_id)
    return {shard: tuple(ids) for shard, ids in sorted(grouped.items())}


def _register(engine: Engine, records: list[AccountRecord], shard_count: int) -> Registration:
    with engine.begin() as conn:
        new_ids = register_accounts(conn, records, shard_count)
    return Registration(tuple(records), tuple(new_ids))


@dataclass(frozen=True)
class RegistrySync:
    new_ids: tuple[str, ...]
    unlinked_ids: tuple[str, ...]
    listed: int


def sync_registry(
    client: MonoClient,
    engine: Engine,
    *,
    shard_count: int,
    allow: frozenset[str] = frozenset(),
    deny: frozenset[str] = frozenset(),
    tenant: str = "default",
) -> RegistrySync:
    """Registers the linked accounts Mono lists (after the allow/deny lists) and marks the ones it no
    longer lists as unlinked: they stop being synced and keep their history."""
    records, listed = _listed_records(client, tenant, allow, deny)
    with engine.begin() as conn:
        new_ids = register_accounts(conn, records, shard_count)
        # Only an account Mono no longer lists at all has disappeared; a filtered one is left as it is.
        gone = [
            row.account_id for row in list_accounts(conn, statuses=("active", "paused")) if row.account_id not in listed
        ]
        for account_id in gone:
            set_account_status(conn, account_id, "unlinked")
    return RegistrySync(tuple(new_ids), tuple(gone), len(records))
