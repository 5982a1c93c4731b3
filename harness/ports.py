"""Free loopback ports."""

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago; callers retry start-up if it got taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
