"""pytest plugin: the run as Prometheus metrics (being written)."""
