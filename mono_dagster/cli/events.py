"""`mono-dagster events relay | dlq list | dlq replay | dlq purge`: event delivery from a terminal.

`relay` runs the outbox relay (long-running, or `--once`); `dlq` is on-call's view of RabbitMQ's
dead-letter queue. The RFC's rollback step 3 is `mono-dagster events dlq purge --event 'mono.fetch.*' --yes`.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime
from types import FrameType

import click

from mono_dagster.cli.common import engine_from_environment, one_line_errors
from mono_dagster.cli.tables import render_table
from mono_dagster.events.dead_letters import DeadLetter, DeadLetterFilter, DeadLetterQueue
from mono_dagster.events.publishers import publisher_from_settings, topology_from_settings
from mono_dagster.events.publishers.amqp import quiet_pika_logs
from mono_dagster.events.relay import OutboxRelay
from mono_dagster.observability.metrics_server import start_metrics_server
from mono_dagster.settings import Settings

EXIT_INCOMPLETE = 1


def _parse_time(_ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO time (2026-11-28T09:00:00+01:00)", param=param) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def mask_account(account_id: str | None) -> str:
    """The last four characters only: enough to tell accounts apart in a listing."""
    if not account_id:
        return "-"
    return "****" + account_id[-4:]


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, _ = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h" if days else f"{hours}h{minutes:02d}m"


@click.group("events")
def events_group() -> None:
    """Pipeline event delivery: the outbox relay and the dead-letter queue."""


@events_group.command("relay")
@click.option("--once", is_flag=True, help="Deliver up to --max-events events, print a summary and exit.")
@click.option("--max-events", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="[default: MONO_EVENTS_RELAY_BATCH_SIZE]")
@click.option("--poll-interval", type=click.FloatRange(min=0.05), default=1.0, show_default=True)
@click.option("--metrics-port", type=click.IntRange(min=0, max=65535), default=None, help="Serve /metrics here.")
@one_line_errors
def relay_command(
    once: bool, max_events: int, batch_size: int | None, poll_interval: float, metrics_port: int | None
) -> None:
    """Publish undelivered outbox events in order (MONO_EVENTS_PUBLISHER), marking each once acknowledged."""
    settings = Settings.from_env()
    logging.getLogger("mono_dagster.events").setLevel(logging.INFO)
    quiet_pika_logs()
    if metrics_port is not None and start_metrics_server(metrics_port) is None:
        raise ValueError(f"cannot serve /metrics on port {metrics_port} (in use?)")
    publisher = publisher_from_settings(settings)
    relay = OutboxRelay(engine_from_environment(), publisher, batch_size=batch_size or settings.events_relay_batch_size)
    try:
        if once:
            summary = relay.run_once(max_events)
            click.echo(summary.describe())
            if summary.last_error:
                raise SystemExit(EXIT_INCOMPLETE)
            return
        stop = threading.Event()

        def _stop(signum: int, _frame: FrameType | None) -> None:
            click.echo(f"{signal.Signals(signum).name}: finishing the current event, then stopping", err=True)
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        click.echo(f"relaying with the {publisher.name} publisher (SIGTERM stops)", err=True)
        total = relay.run_forever(stop, poll_interval_seconds=poll_interval)
        click.echo(f"stopped; delivered {total} event(s); {relay.refresh_backlog().events} undelivered")
    finally:
        publisher.close()


@events_group.group("dlq")
def dlq_group() -> None:
    """RabbitMQ's dead-letter queue of pipeline events (rejected or expired messages)."""


def _filter_options(command: click.Command) -> click.Command:
    command = click.option("--before", callback=_parse_time, help="Only events created before this ISO time.")(command)
    return click.option("--event", "event_pattern", help="Only event names matching this pattern (mono.fetch.*).")(
        command
    )


def _queue() -> DeadLetterQueue:
    quiet_pika_logs()
    settings = Settings.from_env()
    return DeadLetterQueue(settings.events_amqp_url.get_secret_value(), topology_from_settings(settings))


def _render(letters: list[DeadLetter]) -> str:
    now = datetime.now(UTC)
    return render_table(
        ["event", "account", "age", "reason", "from queue", "event id"],
        [
            [
                letter.event_name,
                mask_account(letter.account_id),
                _age(letter.age_seconds(now)),
                letter.reason,
                letter.source_queue or "-",
                letter.message_id or "-",
            ]
            for letter in letters
        ],
    )


@dlq_group.command("list")
@_filter_options
@click.option("--limit", type=click.IntRange(min=1), default=1000, show_default=True)
@one_line_errors
def dlq_list_command(event_pattern: str | None, before: datetime | None, limit: int) -> None:
    """Show dead-lettered events (left in the queue): name, masked account, age, why they died."""
    outcome = _queue().list(DeadLetterFilter(event_pattern, before), limit=limit)
    if outcome.letters:
        click.echo(_render(outcome.letters))
    click.echo(f"{len(outcome.letters)} dead-lettered event(s) match; {outcome.left} other(s) in the queue")


@dlq_group.command("replay")
@_filter_options
@click.option("--limit", type=click.IntRange(min=1), default=100_000, show_default=True)
@one_line_errors
def dlq_replay_command(event_pattern: str | None, before: datetime | None, limit: int) -> None:
    """Republish matching events to the queue that rejected them (same message id), then drop them from the DLQ."""
    outcome = _queue().replay(DeadLetterFilter(event_pattern, before), limit=limit)
    click.echo(f"replayed {len(outcome.letters)} event(s); {outcome.left} left in the dead-letter queue")
    for error in outcome.errors:
        click.echo(f"not replayed: {error}", err=True)
    if outcome.errors:
        raise SystemExit(EXIT_INCOMPLETE)


@dlq_group.command("purge")
@_filter_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@one_line_errors
def dlq_purge_command(event_pattern: str | None, before: datetime | None, yes: bool) -> None:
    """Drop matching events from the dead-letter queue for good (the RFC's rollback step 3)."""
    queue = _queue()
    which = DeadLetterFilter(event_pattern, before)
    if not yes:
        matching = len(queue.list(which, limit=100_000).letters)
        if matching == 0:
            click.echo("0 dead-lettered event(s) match; nothing to purge")
            return
        click.confirm(f"Purge {matching} dead-lettered event(s) for good?", abort=True)
    outcome = queue.purge(which)
    click.echo(f"purged {len(outcome.letters)} event(s); {outcome.left} left in the dead-letter queue")
