"""The account registry (`mono_accounts`): which accounts to sync, their shard, status and sync health.

Per-account state lives here, in the database, rather than in Dagster partitions (see
docs/architecture.md). Functions take the caller's connection and never commit.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from mono_dagster.storage.sql import chunked, dialect_insert
from mono_dagster.storage.tables import ACCOUNT_STATUSES, mono_accounts, utcnow

_ERROR_LIMIT = 2_000
_DIGIT = re.compile(r"\d")


class UnknownAccountError(LookupError):
    """The account id is not in the registry."""

    def __init__(self, account_id: str) -> None:
        super().__init__(f"account {account_id!r} is not registered in mono_accounts")
        self.account_id = account_id


@dataclass(frozen=True)
class AccountRecord:
    """An account as a caller registers it (from Mono's account list or the CLI)."""

    account_id: str
    institution: str | None = None
    currency: str = "NGN"
    account_number_masked: str | None = None  # a full number is masked before it is stored
    tenant: str = "default"


@dataclass(frozen=True)
class AccountRow:
    """An account as the registry holds it."""

    account_id: str
    tenant: str
    status: str
    shard: int
    account_number_masked: str | None
    institution: str | None
    currency: str
    last_successful_window_start: date | None
    last_successful_window_end: date | None
    last_success_at: datetime | None
    last_attempt_at: datetime | None
    failure_streak: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime


def shard_for(account_id: str, shard_count: int) -> int:
    """The account's shard: sha256 of its id modulo `shard_count`.

    Not Python's `hash()`: string hashing is salted per process (PYTHONHASHSEED), so every process
    (Dagster launches many) would put the same account in a different shard.
    """
    if shard_count < 1:
        raise ValueError(f"shard_count must be at least 1, got {shard_count}")
    digest = hashlib.sha256(account_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shard_count


def mask_account_number(value: str | None) -> str | None:
    """Keeps at most the last four digits, so a full account number never reaches the registry."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    digits = _DIGIT.findall(value)
    if len(digits) <= 4 and len(value) <= 16:
        return value  # already masked, e.g. "******1234"
    return "******" + "".join(digits[-4:])


def register_accounts(
    conn: sa.Connection, accounts: Sequence[AccountRecord], shard_count: int, *, now: datetime | None = None
) -> list[str]:
    """Adds new accounts (active, on their shard) and refreshes the details of known ones.

    Known accounts keep their status, shard and failure streak, except that an `unlinked` account that
    reappears becomes `active` again. Returns the ids that were new, in input order.
    """
    now = now or utcnow()
    latest = {record.account_id: record for record in accounts}  # a repeated id: the last one wins
    if not latest:
        return []
    rows = [
        {
            "account_id": record.account_id,
            "tenant": record.tenant,
            "status": "active",
            "shard": shard_for(record.account_id, shard_count),
            "account_number_masked": mask_account_number(record.account_number_masked),
            "institution": record.institution,
            "currency": record.currency,
            "failure_streak": 0,
            "created_at": now,
            "updated_at": now,
        }
        for record in latest.values()
    ]
    # ON CONFLICT DO NOTHING: two processes registering the same account must not fail each other.
    statement = (
        dialect_insert(conn, mono_accounts)
        .on_conflict_do_nothing(index_elements=["account_id"])
        .returning(mono_accounts.c.account_id)
    )
    new = set(conn.execute(statement, rows).scalars())
    refresh = (
        sa.update(mono_accounts)
        .where(mono_accounts.c.account_id == sa.bindparam("b_account_id"))
        .values(
            institution=sa.bindparam("b_institution"),
            currency=sa.bindparam("b_currency"),
            account_number_masked=sa.bindparam("b_masked"),
            status=sa.case((mono_accounts.c.status == "unlinked", "active"), else_=mono_accounts.c.status),
            updated_at=now,
        )
    )
    known = [
        {
            "b_account_id": row["account_id"],
            "b_institution": row["institution"],
            "b_currency": row["currency"],
            "b_masked": row["account_number_masked"],
        }
        for row in rows
        if row["account_id"] not in new
    ]
    if known:
        conn.execute(refresh, known)
    return [account_id for account_id in latest if account_id in new]


def list_accounts(
    conn: sa.Connection,
    *,
    shard: int | None = None,
    statuses: Sequence[str] | None = ("active",),
    account_ids: Sequence[str] | None = None,
) -> list[AccountRow]:
    """Accounts ordered by id; `statuses=None` means any status, `account_ids` narrows to those ids."""
    query = sa.select(mono_accounts).order_by(mono_accounts.c.account_id)
    if shard is not None:
        query = query.where(mono_accounts.c.shard == shard)
    if statuses is not None:
        query = query.where(mono_accounts.c.status.in_(list(statuses)))
    if account_ids is None:
        return [AccountRow(**row) for row in conn.execute(query).mappings()]
    found: list[AccountRow] = []
    for chunk in chunked(sorted(set(account_ids))):
        found.extend(
            AccountRow(**row) for row in conn.execute(query.where(mono_accounts.c.account_id.in_(chunk))).mappings()
        )
    return sorted(found, key=lambda row: row.account_id)


def record_sync_success(
    conn: sa.Connection, account_id: str, window_start: date, window_end: date, at: datetime
) -> None:
    """The account's window was fetched and persisted: streak back to 0, last success noted."""
    _update_one(
        conn,
        account_id,
        failure_streak=0,
        last_error=None,
        last_success_at=at,
        last_attempt_at=at,
        last_successful_window_start=window_start,
        last_successful_window_end=window_end,
        updated_at=at,
    )


def record_sync_successes(conn: sa.Connection, windows: Sequence[tuple[str, date, date]], at: datetime) -> None:
    """`record_sync_success` for many (account_id, start, end) windows: one UPDATE per distinct window and
    chunk of accounts, not one per account (a run's accounts usually share one window)."""
    by_window: dict[tuple[date, date], list[str]] = {}
    for account_id, start, end in windows:
        by_window.setdefault((start, end), []).append(account_id)
    for (start, end), account_ids in by_window.items():
        for chunk in chunked(sorted(set(account_ids))):
            conn.execute(
                sa.update(mono_accounts)
                .where(mono_accounts.c.account_id.in_(chunk))
                .values(
                    failure_streak=0,
                    last_error=None,
                    last_success_at=at,
                    last_attempt_at=at,
                    last_successful_window_start=start,
                    last_successful_window_end=end,
                    updated_at=at,
                )
            )


def record_sync_failure(conn: sa.Connection, account_id: str, error: str, at: datetime, *, count: bool = True) -> int:
    """Adds one to the account's failure streak (unless `count` is False) and returns the streak."""
    statement = (
        sa.update(mono_accounts)
        .where(mono_accounts.c.account_id == account_id)
        .values(
            failure_streak=mono_accounts.c.failure_streak + (1 if count else 0),
            last_error=error[:_ERROR_LIMIT],
            last_attempt_at=at,
            updated_at=at,
        )
        .returning(mono_accounts.c.failure_streak)
    )
    streak = conn.execute(statement).scalar_one_or_none()
    if streak is None:
        raise UnknownAccountError(account_id)
    return int(streak)


def set_account_status(conn: sa.Connection, account_id: str, status: str, *, now: datetime | None = None) -> None:
    """Pauses, unlinks or reactivates an account; only `active` accounts are synced."""
    if status not in ACCOUNT_STATUSES:
        raise ValueError(f"status must be one of {', '.join(ACCOUNT_STATUSES)}, got {status!r}")
    _update_one(conn, account_id, status=status, updated_at=now or utcnow())


def set_account_tenant(conn: sa.Connection, account_id: str, tenant: str, *, now: datetime | None = None) -> None:
    """Moves an account to another tenant's Mono rate budget (MONO_TENANT_RATE_LIMITS)."""
    if not tenant.strip() or len(tenant) > 64:
        raise ValueError(f"a tenant is 1 to 64 characters, got {tenant!r}")
    _update_one(conn, account_id, tenant=tenant.strip(), updated_at=now or utcnow())


def _update_one(conn: sa.Connection, account_id: str, **values: object) -> None:
    result = conn.execute(sa.update(mono_accounts).where(mono_accounts.c.account_id == account_id).values(**values))
    if result.rowcount == 0:
        raise UnknownAccountError(account_id)
