"""What every command shares: turning typed errors into one line and an exit code, date options."""

from __future__ import annotations

import functools
import logging
import sys
import warnings
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar

import click
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from mono_dagster.mono import MonoClient, MonoError, RetrySettings, SecretBackedMonoTokenProvider
from mono_dagster.observability.logs import JsonLineFormatter, log_format_from_env
from mono_dagster.observability.scrub import install_log_scrubber
from mono_dagster.settings import Settings, SettingsError
from mono_dagster.storage.accounts import UnknownAccountError
from mono_dagster.storage.engine import create_db_engine, resolve_database_url
from mono_dagster.storage.migrate import SchemaNotCurrentError, ensure_schema_current

F = TypeVar("F", bound=Callable[..., Any])
EXIT_USAGE_OR_INPUT = 2


def engine_from_environment() -> Engine:
    """The pipeline's database; an embedded SQLite one is migrated, Postgres must already be current."""
    url = resolve_database_url()
    ensure_schema_current(url, upgrade=url.startswith("sqlite"))
    return create_db_engine(url)


def one_line_errors(command: F) -> F:
    """Expected failures (bad key, unknown account, unreachable host, bad setting) end in one line, exit 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (MonoError, SettingsError, SchemaNotCurrentError, UnknownAccountError, ValueError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_USAGE_OR_INPUT)
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else exc.__class__.__name__
            click.echo(f"error: cannot use the database: {reason}", err=True)
            sys.exit(EXIT_USAGE_OR_INPUT)

    return wrapper  # type: ignore[return-value]


def parse_day(_ctx: click.Context | None, param: click.Parameter | None, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        name = param.name if param else "date"
        raise click.BadParameter(f"{value!r} is not a date of the form YYYY-MM-DD", param_hint=f"--{name}") from None


def configure_cli_logging(verbose: bool = False, *, json_lines: bool = False) -> None:
    """Scrubbed logs on stderr: text, or `mono-pipeline` JSON lines (`--json-logs` or `MONO_LOG_FORMAT=json`)."""
    install_log_scrubber()
    try:
        json_lines = json_lines or log_format_from_env() == "json"
    except SettingsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE_OR_INPUT)
    level = logging.INFO if verbose else logging.WARNING
    if json_lines:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonLineFormatter())
        logging.basicConfig(level=level, handlers=[handler])
    else:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # httpx logs each request at INFO: shown with --verbose only.
    logging.getLogger("httpx").setLevel(level)
    # BackfillPolicy is GA since 1.10.18 (dagster_apis.md §2) but the decorator still flags it as beta.
    warnings.filterwarnings("ignore", message=r"Parameter `backfill_policy`")


def client_from_environment(settings: Settings | None = None) -> MonoClient:
    settings = settings or Settings.from_env()
    return MonoClient(
        token_provider=SecretBackedMonoTokenProvider.from_environment(),
        base_url=settings.mono_base_url,
        rate_limit_per_second=settings.rate_limit_per_second,
        rate_limit_burst=settings.rate_limit_burst,
        retry=RetrySettings(max_attempts=settings.max_attempts),
        page_size=settings.page_size,
    )
