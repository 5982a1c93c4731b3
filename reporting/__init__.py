"""Turns a pytest run into Prometheus metrics and pushes them."""
