"""Everything the console can be told at start-up, in one immutable place."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# The repo's schemas; only read when test controls validate emitted payloads.
DEFAULT_SCHEMA_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "schemas"


@dataclass(frozen=True)
class Settings:
    """Start-up configuration; intervals are in seconds."""

    host: str = "127.0.0.1"
    port: int = 8000
    redis_url: str = "redis://127.0.0.1:6379/0"
    heartbeat_interval: float = 5.0
    health_interval: float = 10.0
    metrics_interval: float = 5.0
    test_controls: bool = False
    prometheus_url: str | None = None
    kyverno_url: str | None = None
    argocd_url: str | None = None
    log_level: str = "info"
    # OTLP/HTTP collector for the broadcast spans (None: spans are recorded, not exported).
    otlp_endpoint: str | None = None
    # Frames a client may lag behind before it is closed (1013); protects everyone else.
    send_queue_size: int = 256
    # How long a test emit waits for its frame to reach every socket before answering anyway.
    delivery_timeout: float = 2.0
    # Redis cache panel: keys under this prefix are watched (keyspace notifications), and
    # at most this many of the most recently changed ones are kept in the snapshot.
    cache_prefix: str = "mcp:cache:"
    cache_max_keys: int = 200
    schema_dir: Path = DEFAULT_SCHEMA_DIR
    # Bearer token Alertmanager must present on the webhook (None: the webhook is open).
    # Kept out of repr so that logging the settings never shows it.
    webhook_token: str | None = field(default=None, repr=False)

    @property
    def heartbeat_interval_ms(self) -> int:
        return round(self.heartbeat_interval * 1000)

    def probe_targets(self) -> dict[str, str | None]:
        """HTTP health probe URL per component (None: not configured)."""
        return {
            "kyverno": self.kyverno_url,
            "argocd": self.argocd_url,
            "prometheus": self.prometheus_url,
        }
