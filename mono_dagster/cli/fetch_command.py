"""`mono-dagster fetch`: an operator's look at exactly what Mono returns for one account's window."""

from __future__ import annotations

import json
from datetime import date

import click

from mono_dagster.cli.common import client_from_environment, one_line_errors, parse_day
from mono_dagster.mono import DateWindow, FetchResult
from mono_dagster.mono.account_ids import validate_account_id


@click.command("fetch")
@click.option("--account", "account_id", required=True, help="Mono account id.")
@click.option("--start", required=True, callback=parse_day, help="First UTC day, YYYY-MM-DD.")
@click.option("--end", required=True, callback=parse_day, help="Last UTC day (inclusive), YYYY-MM-DD.")
@click.option("--json", "as_json", is_flag=True, help="Print the transactions as a JSON array on stdout.")
@one_line_errors
def fetch_command(account_id: str, start: date, end: date, as_json: bool) -> None:
    """Fetch one account's window through the client (MONO_BASE_URL, MONO_SECRET_KEY) and summarise it."""
    validate_account_id(account_id)  # before the key is read or a connection opened
    window = DateWindow(start, end)
    with client_from_environment() as client:
        result = client.fetch_transactions(account_id, window)
    if as_json:
        click.echo(json.dumps(result.transactions, separators=(",", ":")))
    click.echo(summarise(result), err=as_json)


def summarise(result: FetchResult) -> str:
    dates = sorted(str(txn.get("date", ""))[:10] for txn in result.transactions if txn.get("date"))
    rows = [
        ("account", result.account_id),
        ("window", str(result.window)),
        ("transactions", str(len(result.transactions))),
        ("pages", str(len(result.pages))),
        ("requests", str(result.requests)),
        ("retries", str(result.retries)),
        ("window restarts", str(result.restarts)),
        ("duplicates dropped", str(result.duplicates_dropped)),
        ("first date", dates[0] if dates else "-"),
        ("last date", dates[-1] if dates else "-"),
        ("response shapes", ", ".join(sorted(result.shapes)) or "-"),
        ("elapsed", f"{result.elapsed_seconds:.2f} s"),
    ]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)
