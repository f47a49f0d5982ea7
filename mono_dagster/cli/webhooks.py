"""`mono-dagster webhooks serve | inbox`: the Mono webhook receiver, and what its inbox holds.

`serve` needs `MONO_WEBHOOK_SECRET` (or `MONO_WEBHOOK_SECRET_FILE`); it is never printed or logged.
"""

from __future__ import annotations

import click

from mono_dagster.cli.common import engine_from_environment, one_line_errors
from mono_dagster.cli.tables import render_table
from mono_dagster.storage.engine import describe_url
from mono_dagster.storage.webhook_inbox import recent_rows


@click.group("webhooks")
def webhooks_group() -> None:
    """Mono webhooks: the receiver and its inbox (mono_webhook_inbox)."""


@webhooks_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8780, show_default=True, type=click.IntRange(0, 65535), help="0: any free port.")
@one_line_errors
def serve_command(host: str, port: int) -> None:
    """Receive Mono webhooks on POST /webhooks/mono (plus /healthz and /metrics) until Ctrl-C."""
    from mono_dagster.webhooks.app import WEBHOOK_PATH, build_app
    from mono_dagster.webhooks.config import WebhookConfig
    from mono_dagster.webhooks.server import serve

    config = WebhookConfig.from_env()
    engine = engine_from_environment()
    app = build_app(config, engine)

    def announce(base_url: str) -> None:
        click.echo(f"Mono webhook receiver on {base_url}{WEBHOOK_PATH} (health: /healthz, metrics: /metrics)")
        click.echo(
            f"schemes {','.join(sorted(config.schemes))}, body limit {config.max_body_bytes} bytes, "
            f"inbox in {describe_url(str(engine.url))}"
        )

    serve(app, host, port, on_started=announce)


@webhooks_group.command("inbox")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@one_line_errors
def inbox_command(limit: int) -> None:
    """Show the newest deliveries and what the inbox sensor did with them (blank outcome: not yet processed)."""
    with engine_from_environment().connect() as conn:
        rows = recent_rows(conn, limit)
    click.echo(
        render_table(
            ["id", "received", "event", "account", "outcome", "attempts", "detail"],
            [
                [
                    row.id,
                    row.received_at.strftime("%Y-%m-%d %H:%M:%S"),
                    row.event_name,
                    row.account_id or "",
                    row.outcome or "",
                    row.attempts,
                    (row.detail or row.last_error or "")[:80],
                ]
                for row in rows
            ],
        )
    )
