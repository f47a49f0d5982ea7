"""The receiver's settings: the webhook secret (never logged or shown), accepted schemes, body limit."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from mono_dagster.settings import Settings, SettingsError

SECRET_VARIABLE: Final = "MONO_WEBHOOK_SECRET"  # noqa: S105 - the variable's name, not a secret
SECRET_FILE_VARIABLE: Final = "MONO_WEBHOOK_SECRET_FILE"  # noqa: S105 - likewise


@dataclass(frozen=True)
class WebhookConfig:
    secret: bytes = field(repr=False)
    schemes: frozenset[str]
    max_body_bytes: int

    def __post_init__(self) -> None:
        if not self.secret:
            raise SettingsError(f"{SECRET_VARIABLE} (or {SECRET_FILE_VARIABLE}) must be set to receive webhooks")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebhookConfig:
        """`MONO_WEBHOOK_SECRET_FILE` (a mounted secret) wins over `MONO_WEBHOOK_SECRET`."""
        env = environ if environ is not None else os.environ
        settings = Settings.from_env(env)
        secret = env.get(SECRET_VARIABLE, "")
        secret_file = env.get(SECRET_FILE_VARIABLE, "").strip()
        if secret_file:
            try:
                secret = Path(secret_file).read_text().strip()
            except OSError as exc:
                raise SettingsError(f"{SECRET_FILE_VARIABLE}: cannot read the file ({exc.strerror})") from None
        return cls(
            secret=secret.encode("utf-8"),
            schemes=frozenset(settings.webhook_schemes.split(",")),
            max_body_bytes=settings.webhook_max_body_bytes,
        )
