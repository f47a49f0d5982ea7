"""`mono_event_relay`: a sensor that drains the event outbox every 30 seconds (the bounded relay pass).

Each tick delivers up to `SENSOR_MAX_EVENTS` events with the configured publisher and reports what it
did as the tick's skip reason (it launches no runs). It shares the relay lease with `mono-dagster
events relay`, so running the long-lived relay as a service as well is safe: whichever holds the lease
publishes, the other stands by. The kill switch (`MONO_INGESTION_ENABLED=false`) stops it.
"""

import dagster as dg

from mono_dagster.defs.kill_switch import kill_switch_reason
from mono_dagster.defs.resources import DatabaseResource
from mono_dagster.events.publishers.amqp import quiet_pika_logs
from mono_dagster.events.relay import relay_once
from mono_dagster.settings import Settings

# Bounded so a tick stays well inside the daemon's sensor evaluation timeout (60 s by default).
SENSOR_MAX_EVENTS = 5000
SENSOR_ATTEMPTS = 2


@dg.sensor(
    name="mono_event_relay",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Publishes undelivered pipeline events (outbox) in order to MONO_EVENTS_PUBLISHER; launches no runs.",
    tags={"provider": "mono"},
)
def mono_event_relay(context: dg.SensorEvaluationContext, database: DatabaseResource) -> dg.SkipReason:
    reason = kill_switch_reason()
    if reason is not None:
        return dg.SkipReason(reason)
    quiet_pika_logs()
    summary = relay_once(
        database.get_engine(), Settings.from_env(), max_events=SENSOR_MAX_EVENTS, attempts=SENSOR_ATTEMPTS
    )
    if summary.last_error:
        context.log.warning(f"event relay: {summary.describe()}")
    return dg.SkipReason(summary.describe())
