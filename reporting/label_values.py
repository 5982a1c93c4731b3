"""Label values the reporter publishes: exact where possible, shortened by one stable rule.

A value is published unchanged when it is at most `MAX_LABEL_CHARS` characters of valid text
and holds no secret. Otherwise it is rewritten, always the same way for the same input:

1. every secret from the environment (Pushgateway password or token) becomes `***`;
2. characters that are not valid UTF-8 (lone surrogates) become backslash escapes;
3. the result is cut to its first `PREFIX_CHARS` characters;
4. `…#` and the first `HASH_CHARS` hex digits of SHA-256 of the *original* value (UTF-8; of
   the redacted value plus a marker when a secret was replaced) are appended — at most
   `MAX_LABEL_CHARS` characters in all.

So a test id longer than 200 characters keeps a readable prefix and a hash of the whole id: two
different tests never share a series. `LabelValues` checks the values of one run: should a value
ever meet one already given out (a test literally named like another's short form, or two ids
that differ only where a secret was), the later one in the run's order hashes again with a
counter (`\0` + 2, 3, ...) appended to what it hashes, until its label is free.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

MAX_LABEL_CHARS = 200
HASH_CHARS = 16
MARKER = "…#"
PREFIX_CHARS = MAX_LABEL_CHARS - len(MARKER) - HASH_CHARS
MIN_SECRET_CHARS = 3


def shortened(value: str, secrets: Iterable[str] = (), salt: int = 0) -> str:
    """`value` as published: unchanged, or rewritten by the rule in this module's docstring
    (always rewritten, with `salt` in the hash, when a salt is given)."""
    text = value
    changed = salt > 0
    for secret in secrets:
        if len(secret) >= MIN_SECRET_CHARS and secret in text:
            text = text.replace(secret, "***")
            changed = True
    # The hash must not reveal a secret either: with one replaced, hash the redacted text.
    hashed = f"{text}\0redacted" if text != value else value
    if salt:
        hashed += f"\0{salt}"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
        changed = True
    if len(text) > MAX_LABEL_CHARS:
        changed = True
    if not changed:
        return text
    digest = hashlib.sha256(hashed.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{text[:PREFIX_CHARS]}{MARKER}{digest[:HASH_CHARS]}"


class LabelValues:
    """Shortens the values of one label across a run, never mapping two inputs to one output."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = tuple(secret for secret in secrets if secret)
        self._out: dict[str, str] = {}
        self._owner: dict[str, str] = {}

    def __call__(self, value: str) -> str:
        known = self._out.get(value)
        if known is not None:
            return known
        out = shortened(value, self._secrets)
        salt = 1
        while self._owner.get(out, value) != value:
            salt += 1
            out = shortened(value, self._secrets, salt)
        self._out[value] = out
        self._owner.setdefault(out, value)
        return out
