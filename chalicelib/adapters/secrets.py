"""Secret references resolved from the environment or SSM Parameter Store, once per container."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from chalicelib.domain.errors import NotConfiguredError


class SecretMissingError(NotConfiguredError):
    """A secret reference points at nothing; the deployment is misconfigured."""


class SecretResolver:
    """Reads `env:NAME` from the environment and `ssm:/name` from SSM (SecureString), cached."""

    def __init__(self, ssm_client: Callable[[], Any]) -> None:
        # The SSM client is built on first use only: most requests never leave the cache.
        self._ssm_client = ssm_client
        self._cache: dict[str, str] = {}
        self._lock = threading.Lock()

    def resolve(self, ref: str) -> str:
        """The secret `ref` points at."""
        if ref.startswith("env:"):
            value = os.environ.get(ref[4:])
            if not value:
                raise SecretMissingError(f"environment variable {ref[4:]} is not set")
            return value
        if not ref.startswith("ssm:"):
            raise SecretMissingError("a secret reference starts with env: or ssm:")
        with self._lock:
            if ref not in self._cache:
                self._cache[ref] = self._fetch(ref[4:])
            return self._cache[ref]

    def _fetch(self, name: str) -> str:
        try:
            reply = self._ssm_client().get_parameter(Name=name, WithDecryption=True)
        except Exception as exc:
            # A missing parameter is a misconfiguration like a missing variable, and gets the same
            # named error; anything else (throttling, permissions) propagates as it is.
            if _error_code(exc) != "ParameterNotFound":
                raise
            raise SecretMissingError(f"SSM parameter {name} does not exist") from None
        value: str = reply["Parameter"]["Value"]
        return value


def _error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    return code if isinstance(code, str) else None
