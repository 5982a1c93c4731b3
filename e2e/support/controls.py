"""The reference console's test-only control endpoint: emit a given event now."""

from __future__ import annotations

from typing import Any

import httpx


class ConsoleControls:
    """Only the reference console started with --test-controls has /api/test/emit."""

    def __init__(self, base_url: str) -> None:
        self._client = httpx.Client(base_url=base_url.rstrip("/"), timeout=10)
        self._available: bool | None = None

    @property
    def available(self) -> bool:
        if self._available is None:
            # 404: no such endpoint (a real deployment); 405: it exists but wants POST.
            self._available = self._client.get("/api/test/emit").status_code == 405
        return self._available

    def emit(self, type_: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """Broadcast one event now; returns {"id", "type", "ts"} once every socket has it."""
        body: dict[str, Any] = {"type": type_}
        if payload is not None:
            body["payload"] = payload
        response = self._client.post("/api/test/emit", json=body)
        response.raise_for_status()
        return response.json()

    def close_socket(self, hello_id: str, code: int, reason: str = "e2e") -> None:
        """The server closes the socket that received this hello, with a real close frame."""
        response = self._client.post(
            "/api/test/close", json={"hello_id": hello_id, "code": code, "reason": reason}
        )
        response.raise_for_status()

    def snapshot(self) -> dict[str, Any]:
        response = self._client.get("/api/snapshot")
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        self._client.close()
