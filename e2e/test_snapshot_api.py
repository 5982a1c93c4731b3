"""GET /api/snapshot: the same state the socket announces, for resync and polling."""

from __future__ import annotations

import pytest

from e2e.pages.console import ConsolePage
from e2e.support.controls import ConsoleControls
from e2e.support.schemas import validator

pytestmark = pytest.mark.api


def test_snapshot_api_matches_the_schema_and_the_hello(
    console: ConsolePage, controls: ConsoleControls
):
    console.open()
    hello = console.recorder.wait_for("hello")
    body = controls.snapshot()
    assert list(validator("snapshot").iter_errors(body["snapshot"])) == []
    assert body["server"] == hello.payload["server"]
    names = [c["name"] for c in body["snapshot"]["health"]["components"]]
    assert names == [c["name"] for c in hello.payload["snapshot"]["health"]["components"]]
