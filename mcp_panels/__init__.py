"""The reference MCP operations console: a Starlette server plus a vanilla JS page."""

__version__ = "0.1.0"

# Sent in hello and GET /api/snapshot so a client knows what it talks to.
SERVER_NAME = "mcp-panels"
