"""`mono-dagster sandbox`: serves the local Mono sandbox in the foreground until Ctrl-C.

For demos and end-to-end tests in other processes: it prints the base URL and the account ids as soon
as the port is bound (the secret key is never printed), then serves; `/_sandbox/...` steers it.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import click

from mono_dagster.cli.common import parse_day
from mono_dagster.sandbox.config import SHAPES
from mono_dagster.sandbox.faults import FAULT_KINDS, is_fault_kind


def parse_kinds(_ctx: click.Context | None, _param: click.Parameter | None, value: str | None) -> tuple[str, ...]:
    if not value:
        return FAULT_KINDS
    kinds = tuple(kind.strip() for kind in value.split(",") if kind.strip())
    unknown = [kind for kind in kinds if not is_fault_kind(kind)]
    if unknown:
        raise click.BadParameter(
            f"unknown fault kinds {', '.join(unknown)}; known: {', '.join(FAULT_KINDS)} or an HTTP status",
            param_hint="--faults",
        )
    return kinds


def parse_plan_file(_ctx: click.Context | None, _param: click.Parameter | None, value: Path | None) -> dict[str, Any]:
    """The JSON object of a fault plan file (what `PUT /_sandbox/faults` takes), checked when the state is built."""
    if value is None:
        return {}
    try:
        plan = json.loads(value.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.BadParameter(f"{value} is not a readable JSON file: {exc}", param_hint="--fault-plan") from None
    if not isinstance(plan, dict):
        raise click.BadParameter(f"{value} must hold a JSON object", param_hint="--fault-plan")
    return plan


@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="0: any free port.")
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--accounts", default=3, show_default=True, type=click.IntRange(0, 1000))
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 3660))
@click.option(
    "--per-day",
    default=5,
    show_default=True,
    type=click.IntRange(0, 86_400),
    help="Transactions per account per UTC day.",
)
@click.option("--end-date", callback=parse_day, help="Last seeded UTC day, YYYY-MM-DD (default: today).")
@click.option(
    "--secret-key",
    envvar="MONO_SECRET_KEY",
    default="test_sk_sandbox",
    show_envvar=True,
    help="The mono-sec-key it accepts (default: $MONO_SECRET_KEY, else test_sk_sandbox).",
)
@click.option(
    "--shape",
    default="v2",
    show_default=True,
    type=click.Choice(SHAPES),
    help="Response shape on /v2 transaction paths.",
)
@click.option(
    "--fault-rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0.0, 1.0),
    help="Share of Mono API requests that get a random fault.",
)
@click.option(
    "--faults",
    callback=parse_kinds,
    help=f"Fault kinds for --fault-rate, comma-separated (default: {','.join(FAULT_KINDS)}).",
)
@click.option("--fault-seed", default=0, show_default=True, type=int)
@click.option(
    "--fault-plan",
    "fault_plan_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    callback=parse_plan_file,
    help="A JSON fault plan, as PUT /_sandbox/faults takes (bad rows: malformed, served_as); "
    "a non-zero --fault-rate replaces its rate, kinds and seed.",
)
def sandbox(
    host: str,
    port: int,
    seed: int,
    accounts: int,
    days: int,
    per_day: int,
    end_date: dt.date | None,
    secret_key: str,
    shape: str,
    fault_rate: float,
    faults: tuple[str, ...],
    fault_seed: int,
    fault_plan_file: dict[str, Any],
) -> None:
    """Serve a local HTTP server that behaves like Mono's API (seeded accounts, quirks, faults)."""
    from mono_dagster.sandbox import FaultPlan, SandboxConfig, SandboxState, run_sandbox

    config = SandboxConfig(
        seed=seed,
        accounts=accounts,
        days=days,
        end_date=end_date,
        per_day=per_day,
        secret_key=secret_key,
        shape=shape,
    )
    state = SandboxState(config)
    plan = dict(fault_plan_file)
    if fault_rate:
        plan.update(seed=fault_seed, rate=fault_rate, kinds=faults)
    if plan:
        try:
            state.set_fault_plan(FaultPlan.from_dict(plan))
        except (TypeError, ValueError, KeyError) as exc:  # KeyError: a bad row names an unknown transaction
            raise click.BadParameter(f"bad fault plan: {exc}", param_hint="--fault-plan") from None
    account_ids = state.account_ids()

    def announce(base_url: str) -> None:
        click.echo(f"Mono sandbox on {base_url}")
        click.echo(
            f"seed {seed}: {len(account_ids)} accounts x {days} days to {state.end_date} x {per_day} a day, "
            f"shape {shape}, fault rate {fault_rate}"
        )
        for account_id in account_ids:
            click.echo(f"account {account_id}")

    run_sandbox(state, host, port, on_started=announce)


sandbox_command = click.command("sandbox")(sandbox)
