"""`mono-dagster accounts discover | add | list | update`: the account registry from a terminal."""

from __future__ import annotations

import click

from mono_dagster.cli.common import client_from_environment, engine_from_environment, one_line_errors
from mono_dagster.cli.tables import render_table
from mono_dagster.mono.account_ids import validate_account_ids
from mono_dagster.pipeline.accounts import add_accounts, discover_accounts
from mono_dagster.settings import Settings
from mono_dagster.storage.accounts import (
    ACCOUNT_STATUSES,
    list_accounts,
    set_account_status,
    set_account_tenant,
)


@click.group("accounts")
def accounts_group() -> None:
    """The account registry (mono_accounts)."""


@accounts_group.command("discover")
@click.option("--tenant", default="default", show_default=True, help="Tenant the new accounts belong to.")
@one_line_errors
def discover_command(tenant: str) -> None:
    """Register every account GET /v2/accounts lists."""
    settings = Settings.from_env()
    with client_from_environment(settings) as client:
        registration = discover_accounts(
            client, engine_from_environment(), shard_count=settings.shard_count, tenant=tenant
        )
    click.echo(f"{len(registration.records)} account(s) listed by Mono, {len(registration.new_ids)} newly registered")


@accounts_group.command("add")
@click.argument("account_ids", nargs=-1, required=True)
@click.option("--tenant", default="default", show_default=True, help="Tenant the accounts belong to.")
@one_line_errors
def add_command(account_ids: tuple[str, ...], tenant: str) -> None:
    """Register the given Mono account ids (each is checked with Mono first)."""
    account_ids = validate_account_ids(account_ids)  # before the key is read or a connection opened
    settings = Settings.from_env()
    with client_from_environment(settings) as client:
        registration = add_accounts(
            client, engine_from_environment(), account_ids, shard_count=settings.shard_count, tenant=tenant
        )
    click.echo(
        f"{len(registration.records)} account(s) checked with Mono, {len(registration.new_ids)} newly registered"
    )


@accounts_group.command("list")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["active", "paused", "unlinked"]),
    help="Only accounts in this status (repeatable); all by default.",
)
@one_line_errors
def list_command(statuses: tuple[str, ...]) -> None:
    """Show the registry; account numbers are masked."""
    with engine_from_environment().connect() as conn:
        rows = list_accounts(conn, statuses=statuses or None)
    click.echo(
        render_table(
            [
                "account",
                "tenant",
                "status",
                "shard",
                "number",
                "institution",
                "last good window",
                "failure streak",
            ],
            [
                [
                    row.account_id,
                    row.tenant,
                    row.status,
                    row.shard,
                    row.account_number_masked or "-",
                    row.institution or "-",
                    f"{row.last_successful_window_start}..{row.last_successful_window_end}"
                    if row.last_successful_window_start
                    else "-",
                    row.failure_streak,
                ]
                for row in rows
            ],
        )
    )


@accounts_group.command("update")
@click.argument("account_ids", nargs=-1, required=True)
@click.option("--tenant", help="Move the accounts to this tenant's Mono rate budget.")
@click.option(
    "--status",
    type=click.Choice(ACCOUNT_STATUSES),
    help="active: synced; paused: kept, not synced (e.g. awaiting reauthorisation); unlinked: history only.",
)
@one_line_errors
def update_command(account_ids: tuple[str, ...], tenant: str | None, status: str | None) -> None:
    """Change registered accounts' tenant or status, all in one transaction (no Mono call)."""
    if tenant is None and status is None:
        raise click.UsageError("give --tenant and/or --status")
    account_ids = validate_account_ids(account_ids)
    with engine_from_environment().begin() as conn:
        for account_id in account_ids:
            if tenant is not None:
                set_account_tenant(conn, account_id, tenant)
            if status is not None:
                set_account_status(conn, account_id, status)
    changes = ", ".join(part for part in (tenant and f"tenant {tenant}", status and f"status {status}") if part)
    click.echo(f"{len(account_ids)} account(s) updated: {changes}")
