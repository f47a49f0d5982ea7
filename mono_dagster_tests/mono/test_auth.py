from __future__ import annotations

import pytest

from mono_dagster.mono import MonoConfigurationError, SecretBackedMonoTokenProvider


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_key_comes_from_the_environment_variable():
    provider = SecretBackedMonoTokenProvider(environ={"MONO_SECRET_KEY": " test_sk_env \n"})
    assert provider.secret().get_secret_value() == "test_sk_env"


def test_a_mounted_secret_file_wins_over_the_environment(tmp_path):
    secret_file = tmp_path / "mono-secret"
    secret_file.write_text("test_sk_file\n")
    provider = SecretBackedMonoTokenProvider.from_environment(
        {"MONO_SECRET_KEY": "test_sk_env", "MONO_SECRET_KEY_FILE": str(secret_file)}
    )
    assert provider.secret().get_secret_value() == "test_sk_file"
    assert provider.source == "file:mono-secret"


def test_key_is_cached_and_reloaded_after_its_lifetime():
    clock = FakeClock()
    values = iter(["first", "second"])
    provider = SecretBackedMonoTokenProvider(loader=lambda: next(values), cache_seconds=600, clock=clock)
    assert provider.secret().get_secret_value() == "first"
    clock.now = 599
    assert provider.secret().get_secret_value() == "first"
    clock.now = 600
    assert provider.secret().get_secret_value() == "second"


def test_the_cache_may_not_outlive_sixty_minutes():
    with pytest.raises(MonoConfigurationError, match="at most 3600"):
        SecretBackedMonoTokenProvider(loader=lambda: "k", cache_seconds=3601)


def test_refresh_reloads_and_tells_every_listener():
    calls: list[str] = []
    values = iter(["old", "new"])
    provider = SecretBackedMonoTokenProvider(loader=lambda: next(values), on_refresh=[lambda: calls.append("a")])
    provider.add_refresh_listener(lambda: calls.append("b"))
    assert provider.secret().get_secret_value() == "old"
    assert provider.refresh().get_secret_value() == "new"
    assert calls == ["a", "b"]


def test_a_missing_key_is_a_clear_configuration_error():
    with pytest.raises(MonoConfigurationError, match="MONO_SECRET_KEY"):
        SecretBackedMonoTokenProvider(environ={}).secret()


def test_an_unreadable_secret_file_names_the_file_not_the_path(tmp_path):
    provider = SecretBackedMonoTokenProvider(secret_file=tmp_path / "absent-secret", env_var=None)
    with pytest.raises(MonoConfigurationError, match="absent-secret") as raised:
        provider.secret()
    assert str(tmp_path) not in str(raised.value)


def test_repr_and_secret_value_repr_hide_the_key():
    provider = SecretBackedMonoTokenProvider(loader=lambda: "test_sk_hidden")
    secret = provider.secret()
    assert "test_sk_hidden" not in repr(provider)
    assert "test_sk_hidden" not in repr(secret)
    assert "test_sk_hidden" not in str(secret)
