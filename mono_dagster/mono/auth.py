"""The secret-key provider: where the `mono-sec-key` comes from and how long it is trusted.

In the spirit of the RFC's `SecretBackedMonoTokenProvider`: the key comes from a callable (a secrets
service), a mounted secret file, or an environment variable; it is cached for at most 60 minutes and
can be refreshed on demand (after a 401) with listeners told. The key never appears in a repr, a log
line, an exception or a metric.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pydantic import SecretStr

from mono_dagster.mono.errors import MonoConfigurationError

MAX_CACHE_SECONDS = 60 * 60
SECRET_KEY_ENV = "MONO_SECRET_KEY"  # noqa: S105 - a variable name, not a secret
SECRET_KEY_FILE_ENV = "MONO_SECRET_KEY_FILE"  # noqa: S105 - a variable name


class SecretBackedMonoTokenProvider:
    """Loads, caches and refreshes Mono's secret key; thread-safe."""

    def __init__(
        self,
        *,
        loader: Callable[[], str] | None = None,
        secret_file: str | Path | None = None,
        env_var: str | None = SECRET_KEY_ENV,
        environ: Mapping[str, str] | None = None,
        cache_seconds: float = MAX_CACHE_SECONDS,
        on_refresh: Sequence[Callable[[], None]] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < cache_seconds <= MAX_CACHE_SECONDS:
            raise MonoConfigurationError(
                f"the secret key may be cached for at most {MAX_CACHE_SECONDS} s, not {cache_seconds}"
            )
        if loader is None and secret_file is None and env_var is None:
            raise MonoConfigurationError("no source for the Mono secret key: give a loader, a file or an env var")
        self._loader = loader
        self._secret_file = Path(secret_file) if secret_file else None
        self._env_var = env_var
        self._environ = environ if environ is not None else os.environ
        self._cache_seconds = cache_seconds
        self._listeners: list[Callable[[], None]] = list(on_refresh)
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: SecretStr | None = None
        self._loaded_at = 0.0

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> SecretBackedMonoTokenProvider:
        """`MONO_SECRET_KEY_FILE` (a mounted secret) wins over `MONO_SECRET_KEY` when both are set."""
        env = environ if environ is not None else os.environ
        secret_file = env.get(SECRET_KEY_FILE_ENV) or None
        return cls(secret_file=secret_file, env_var=SECRET_KEY_ENV, environ=env)

    @property
    def source(self) -> str:
        if self._loader is not None:
            return "callable"
        if self._secret_file is not None:
            return f"file:{self._secret_file.name}"
        return f"env:{self._env_var}"

    def add_refresh_listener(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def secret(self) -> SecretStr:
        """The current key, reloaded when the cache is older than its limit."""
        with self._lock:
            if self._cached is None or self._clock() - self._loaded_at >= self._cache_seconds:
                self._cached = self._load()
                self._loaded_at = self._clock()
            return self._cached

    def refresh(self) -> SecretStr:
        """Drop the cached key, load it again and tell the listeners (called after a 401)."""
        with self._lock:
            self._cached = self._load()
            self._loaded_at = self._clock()
            fresh = self._cached
        for listener in self._listeners:
            listener()
        return fresh

    def _load(self) -> SecretStr:
        if self._loader is not None:
            value = self._loader()
        elif self._secret_file is not None:
            try:
                value = self._secret_file.read_text(encoding="utf-8")
            except OSError as exc:
                raise MonoConfigurationError(
                    f"cannot read the Mono secret key file {self._secret_file.name}: {exc.strerror}"
                ) from None
        else:
            value = self._environ.get(self._env_var or "", "")
        value = (value or "").strip()
        if not value:
            raise MonoConfigurationError(
                f"no Mono secret key: set {SECRET_KEY_ENV} or {SECRET_KEY_FILE_ENV} (source {self.source} is empty)"
            )
        return SecretStr(value)

    def __repr__(self) -> str:
        return f"SecretBackedMonoTokenProvider(source={self.source!r}, cache_seconds={self._cache_seconds})"
