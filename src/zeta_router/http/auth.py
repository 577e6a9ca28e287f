"""Who may use the gateway: client keys for the inference APIs, admin keys for the rest.

A presented key is hashed (SHA-256) and looked up by its digest. The secrets themselves are
never held: the config keeps digests only (given as hex, or hashed from an environment
variable when the config is loaded). Looking a digest up in a dict compares digests, not
secrets: what its timing could tell is how a stored digest relates to the digest of a guess,
which says nothing about a secret that hashes to it (finding a preimage of a known SHA-256 is
the attack that would remain). The entry found is then compared with ``hmac.compare_digest``,
so the equality that grants access does not depend on how much of it matched.

Nothing here logs, and no error names or echoes what was presented.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import TypeVar

from zeta_router.config import Auth, ClientKey
from zeta_router.errors import Forbidden, InvalidRequest, Unauthorized
from zeta_router.http.asgi import Scope
from zeta_router.router import RequestOptions
from zeta_router.routing.limits import KeyLimits

_BEARER = b"bearer "
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Caller:
    """A client key, as the request path uses it."""

    name: str
    #: Models it may ask for by name (``auto`` routes among them); None: every model.
    models: frozenset[str] | None
    limits: KeyLimits
    max_tokens: int | None
    #: The routing options of a request of this key that sets none of its own (most do):
    #: built once here, not per request.
    options: RequestOptions

    @classmethod
    def of(cls, key: ClientKey) -> Caller:
        models = frozenset(key.models) if key.models else None
        return cls(
            key.name,
            models,
            KeyLimits(key.rpm, key.tpm, key.max_parallel),
            key.max_tokens,
            RequestOptions(models=models),
        )

    def options_for(self, opts: RequestOptions) -> RequestOptions:
        return RequestOptions(opts.task, opts.priority, opts.timeout_s, self.models)

    def check_model(self, model: str | None) -> None:
        """403 naming the model when the key may not ask for it by name."""
        if model is not None and self.models is not None and model not in self.models:
            raise Forbidden(
                f"The key '{self.name}' may not use the model '{model}'; it may use: "
                + ", ".join(["auto", *sorted(self.models)]),
                param="model",
            )

    def check_max_tokens(self, max_tokens: int | None) -> None:
        if max_tokens is not None and self.max_tokens is not None and max_tokens > self.max_tokens:
            raise InvalidRequest(
                f"max_tokens {max_tokens} is above the cap of {self.max_tokens} of the key "
                f"'{self.name}'",
                param="max_tokens",
                code="max_tokens_exceeded",
            )


def presented(scope: Scope, api_key_header: bool) -> bytes | None:
    """The key a request presents: ``Authorization: Bearer <key>``, or (when allowed, for the
    Anthropic-style API) ``x-api-key: <key>``."""
    found: bytes | None = None
    name: bytes
    value: bytes
    for name, value in scope["headers"]:
        if name == b"authorization":
            if value[:7].lower() == _BEARER:
                return value[7:].strip()
            found = b""
        elif api_key_header and name == b"x-api-key":
            found = value.strip()
    return found


class Gate:
    """The keys of one config, by digest."""

    __slots__ = ("_admins", "_clients", "auth")

    def __init__(self, auth: Auth) -> None:
        self.auth = auth
        self._clients = {k.digest: (k.digest, Caller.of(k)) for k in auth.keys}
        self._admins = {k.digest: (k.digest, k.name) for k in auth.admin_keys}

    @property
    def clients_enabled(self) -> bool:
        return bool(self._clients)

    @property
    def admins_enabled(self) -> bool:
        return bool(self._admins)

    @staticmethod
    def _find(table: dict[bytes, tuple[bytes, T]], secret: bytes) -> T | None:
        digest = hashlib.sha256(secret).digest()
        entry = table.get(digest)
        if entry is None or not hmac.compare_digest(entry[0], digest):
            return None
        return entry[1]

    def client(self, scope: Scope, api_key_header: bool = False) -> Caller:
        """The client key of a request, or 401."""
        secret = presented(scope, api_key_header)
        if not secret:
            how = "'Authorization: Bearer <key>'"
            if api_key_header:
                how += " or 'x-api-key: <key>'"
            raise Unauthorized(f"Missing API key: send {how}", code="missing_api_key")
        caller = self._find(self._clients, secret)
        if caller is None:
            raise Unauthorized("Invalid API key", code="invalid_api_key")
        return caller

    def admin(self, scope: Scope) -> str:
        """The admin key's name, or 401 (client keys are not admin keys)."""
        secret = presented(scope, False)
        name = self._find(self._admins, secret) if secret else None
        if name is None:
            raise Unauthorized(
                "This admin endpoint needs 'Authorization: Bearer <admin key>'",
                code="invalid_admin_key",
            )
        return name
