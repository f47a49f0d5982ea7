"""The receiver's settings from the environment: the secret (or its file), the schemes, the body limit."""

from __future__ import annotations

import re

import pytest

from mono_dagster.settings import SettingsError
from mono_dagster.webhooks.config import WebhookConfig


def test_defaults_accept_both_schemes_up_to_256_kib():
    config = WebhookConfig.from_env({"MONO_WEBHOOK_SECRET": "whsec_a"})
    assert config.secret == b"whsec_a"
    assert config.schemes == {"secret", "hmac-sha512"}
    assert config.max_body_bytes == 256 * 1024


def test_the_secret_file_wins_and_the_secret_never_shows_in_repr(tmp_path):
    path = tmp_path / "webhook-secret"
    path.write_text("whsec_from_file\n")
    config = WebhookConfig.from_env({"MONO_WEBHOOK_SECRET": "whsec_from_env", "MONO_WEBHOOK_SECRET_FILE": str(path)})
    assert config.secret == b"whsec_from_file"
    assert "whsec" not in repr(config)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "MONO_WEBHOOK_SECRET (or MONO_WEBHOOK_SECRET_FILE) must be set"),
        ({"MONO_WEBHOOK_SECRET_FILE": "/nonexistent/secret"}, "MONO_WEBHOOK_SECRET_FILE: cannot read the file"),
        ({"MONO_WEBHOOK_SECRET": "s", "MONO_WEBHOOK_SCHEMES": "secret,md5"}, "MONO_WEBHOOK_SCHEMES='secret,md5'"),
        ({"MONO_WEBHOOK_SECRET": "s", "MONO_WEBHOOK_MAX_BODY_BYTES": "10"}, "MONO_WEBHOOK_MAX_BODY_BYTES='10'"),
    ],
)
def test_unusable_settings_are_named(environ, message):
    with pytest.raises(SettingsError, match="^" + re.escape(message)):
        WebhookConfig.from_env(environ)


def test_one_scheme_can_be_chosen():
    config = WebhookConfig.from_env({"MONO_WEBHOOK_SECRET": "s", "MONO_WEBHOOK_SCHEMES": " hmac-sha512 "})
    assert config.schemes == {"hmac-sha512"}
