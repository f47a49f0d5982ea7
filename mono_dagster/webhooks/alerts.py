"""The on-call alert of a paused account: one per account, sent when Mono asks for reauthorisation and
resolved when the account is reauthorised or unlinked (so a later reauthorisation request pages again)."""

from __future__ import annotations

from typing import Protocol

from mono_dagster.notify.alert import Alert


class Notifier(Protocol):
    """What `NotifierResource` offers (resource key "notifier")."""

    def send(self, alert: Alert) -> bool: ...

    def resolve(self, dedup_key: str) -> None: ...


def reauthorisation_key(account_id: str) -> str:
    return f"mono-reauthorisation:{account_id}"


def reauthorisation_alert(account_id: str, event_name: str) -> Alert:
    return Alert(
        dedup_key=reauthorisation_key(account_id),
        severity="error",
        route="oncall",
        summary=(
            f"Mono account {account_id} needs reauthorisation by its owner: paused (not synced) until Mono "
            "reports it reauthorised"
        ),
        details={
            "account_id": account_id,
            "event": event_name,
            "runbook": "docs/operations.md#monowebhookreauthorisationrequired",
            "component": "mono_webhook_inbox",
            "group": "mono",
            "class": "mono-reauthorisation",
        },
    )


class NotifierAlerts:
    """`AccountAlerts` on top of the notifier."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    def reauthorisation_required(self, account_id: str, event_name: str) -> None:
        self.notifier.send(reauthorisation_alert(account_id, event_name))

    def reauthorisation_over(self, account_id: str) -> None:
        self.notifier.resolve(reauthorisation_key(account_id))
