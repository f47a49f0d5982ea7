"""On-call and chat notifications: `Alert`, `NotifierResource` (PagerDuty Events v2, Slack-compatible webhook,
or log-only), de-duplicated by a stable key in the pipeline's database."""

from mono_dagster.notify.alert import Alert, Route, Severity
from mono_dagster.notify.delivery import NotificationDeliveryError
from mono_dagster.notify.resource import NotifierResource, notifier_from_environment

__all__ = ["Alert", "NotificationDeliveryError", "NotifierResource", "Route", "Severity", "notifier_from_environment"]
