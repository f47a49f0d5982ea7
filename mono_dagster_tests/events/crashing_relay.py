"""A relay process that dies (SIGKILL) right after the broker confirmed its Nth message, before marking it.

Run as `python -m mono_dagster_tests.events.crashing_relay DB_URL AMQP_URL EXCHANGE N`; the crash is a
real process death, so nothing after the publish (no `finally`, no commit) runs.
"""

from __future__ import annotations

import os
import signal
import sys

from mono_dagster.events.message import EventMessage
from mono_dagster.events.publishers import AmqpPublisher, AmqpTopology
from mono_dagster.events.relay import OutboxRelay
from mono_dagster.storage.engine import create_db_engine


class DiesAfterPublishing:
    name = "amqp"

    def __init__(self, publisher: AmqpPublisher, crash_after: int) -> None:
        self._publisher = publisher
        self._crash_after = crash_after
        self._published = 0

    def publish(self, message: EventMessage) -> None:
        self._publisher.publish(message)  # returns once the broker confirmed the message
        self._published += 1
        if self._published == self._crash_after:
            os.kill(os.getpid(), signal.SIGKILL)

    def close(self) -> None:
        self._publisher.close()


def main(database_url: str, amqp_url: str, exchange: str, crash_after: int) -> None:
    publisher = DiesAfterPublishing(AmqpPublisher(amqp_url, AmqpTopology(exchange)), crash_after)
    OutboxRelay(create_db_engine(database_url), publisher, batch_size=1).run_once(max_events=1000)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
