"""Event delivery: the outbox relay, its publishers (RabbitMQ, signed webhook, log) and dead-letter handling.

Nothing here imports Dagster; `defs/event_relay_schedule.py` and `cli/events.py` call into it.
"""
