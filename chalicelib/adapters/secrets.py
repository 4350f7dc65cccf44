"""Secret references resolved from the environment or SSM Parameter Store, once per container."""

from __future__ import annotations

import os
import threading
from typing import Any, Callable

from chalicelib.domain.errors import LeadclockError


class SecretMissingError(LeadclockError):
    """A secret reference points at nothing; the deployment is misconfigured."""

    code = "secret_missing"


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
                reply = self._ssm_client().get_parameter(Name=ref[4:], WithDecryption=True)
                self._cache[ref] = reply["Parameter"]["Value"]
            return self._cache[ref]
