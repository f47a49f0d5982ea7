"""Mono webhooks: the receiver (verify, store once in the inbox, answer fast) and what each event does.

`app`/`server` receive (`mono-dagster webhooks serve`); `actions` acts on the inbox as plain Python for
the `mono_webhook_inbox` sensor (`defs/webhook_inbox_sensor.py`). The request path never calls Mono.
"""
