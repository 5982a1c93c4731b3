"""Credentials and TLS for the Pushgateway, from the environment only; never printed.

| env | what |
| --- | --- |
| `E2E_PUSHGATEWAY_USERNAME` + `_PASSWORD` | basic auth (or `user:password@` in the URL) |
| `E2E_PUSHGATEWAY_TOKEN` | bearer token; wins over basic auth when both are set |
| `E2E_PUSHGATEWAY_CA_FILE` | PEM file of the CA(s) that signed the gateway's certificate |
| `E2E_PUSHGATEWAY_CERT_FILE` | PEM client certificate (mTLS); may hold the key too |
| `E2E_PUSHGATEWAY_KEY_FILE` | PEM private key of the client certificate (unencrypted) |
"""

from __future__ import annotations

import base64
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from reporting.label_values import MIN_SECRET_CHARS

USERNAME_ENV = "E2E_PUSHGATEWAY_USERNAME"
PASSWORD_ENV = "E2E_PUSHGATEWAY_PASSWORD"
TOKEN_ENV = "E2E_PUSHGATEWAY_TOKEN"
CA_FILE_ENV = "E2E_PUSHGATEWAY_CA_FILE"
CERT_FILE_ENV = "E2E_PUSHGATEWAY_CERT_FILE"
KEY_FILE_ENV = "E2E_PUSHGATEWAY_KEY_FILE"
TLS_ENV_VARS = (CA_FILE_ENV, CERT_FILE_ENV, KEY_FILE_ENV)


class GatewaySettingsError(ValueError):
    """A credential or TLS file from the environment is unusable (the message names the
    variable, never its value)."""


@dataclass(frozen=True)
class GatewayAuth:
    """How to authenticate to the gateway. `repr` shows no secret."""

    username: str | None = None
    password: str | None = None
    token: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, url: str = "") -> GatewayAuth:
        environ = os.environ if environ is None else environ
        # A value read from a file or a Kubernetes secret often ends in a newline: not part of it.
        username = _env(environ, USERNAME_ENV)
        password = _env(environ, PASSWORD_ENV)
        parts = urlsplit(url)
        if username is None and parts.username:
            username = unquote(parts.username)
            password = unquote(parts.password or "")
        return cls(
            username=username,
            password=password,
            token=_env(environ, TOKEN_ENV),
            ca_file=environ.get(CA_FILE_ENV) or None,
            cert_file=environ.get(CERT_FILE_ENV) or None,
            key_file=environ.get(KEY_FILE_ENV) or None,
        )

    def __repr__(self) -> str:
        kinds = [kind for kind, on in (("bearer", self.token), ("basic", self.basic),
                                       ("ca", self.ca_file), ("client-cert", self.cert_file))
                 if on]
        return f"GatewayAuth({', '.join(kinds) or 'none'})"

    @property
    def basic(self) -> bool:
        return self.token is None and self.username is not None and self.password is not None

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every string that must never be shown: token, password, and the encoded basic pair."""
        found = [secret for secret in (self.token, self.password) if secret]
        if self.basic:
            found.append(self.headers()["Authorization"].removeprefix("Basic "))
        return tuple(found)

    def headers(self) -> dict[str, str]:
        """The Authorization header, if any (sent with every request, preemptively)."""
        if self.token:
            return {"Authorization": f"Bearer {self.token}"}
        if self.basic:
            raw = f"{self.username}:{self.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}
        return {}

    def check(self) -> None:
        """GatewaySettingsError if a credential cannot go into a header (named, never shown) or a
        TLS file named in the environment is not a readable file."""
        for env, value in ((TOKEN_ENV, self.token), (USERNAME_ENV, self.username),
                           (PASSWORD_ENV, self.password)):
            if value and any(ord(c) < 0x20 or c == "\x7f" for c in value):
                raise GatewaySettingsError(f"{env} holds a control character (a line break?): "
                                       "it cannot be sent in an HTTP header")
        if self.token and not self.token.isascii():
            raise GatewaySettingsError(f"{TOKEN_ENV} holds non-ASCII characters: "
                                   "it cannot be sent in an HTTP header")
        for env, path in ((CA_FILE_ENV, self.ca_file), (CERT_FILE_ENV, self.cert_file),
                          (KEY_FILE_ENV, self.key_file)):
            if path and not Path(path).is_file():
                raise GatewaySettingsError(f"{env}: {path!r} is not a readable file")
        if self.key_file and not self.cert_file:
            raise GatewaySettingsError(f"{KEY_FILE_ENV} is set but {CERT_FILE_ENV} is not")

    def ssl_context(self) -> ssl.SSLContext | None:
        """A context trusting the CA file and presenting the client certificate; None: default."""
        if not (self.ca_file or self.cert_file):
            return None
        self.check()
        try:
            context = ssl.create_default_context(cafile=self.ca_file)
            if self.cert_file:
                context.load_cert_chain(self.cert_file, self.key_file)
        except (ssl.SSLError, OSError) as exc:
            envs = ", ".join(self._tls_envs())
            raise GatewaySettingsError(f"cannot load the TLS files from {envs}: {exc}") from None
        return context

    def redact(self, text: str) -> str:
        """`text` with every secret value replaced by ***."""
        for secret in self.secrets:
            if len(secret) >= MIN_SECRET_CHARS:
                # Also as an error message would quote it (repr escapes, bytes).
                for form in {secret, repr(secret)[1:-1], str(secret.encode())[2:-1]}:
                    text = text.replace(form, "***")
        return text

    def _tls_envs(self) -> list[str]:
        return [env for env, path in ((CA_FILE_ENV, self.ca_file), (CERT_FILE_ENV, self.cert_file),
                                      (KEY_FILE_ENV, self.key_file)) if path]


def _env(environ: Mapping[str, str], name: str) -> str | None:
    return (environ.get(name) or "").rstrip("\r\n") or None
