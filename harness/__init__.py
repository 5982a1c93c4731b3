"""Starts the real services the suite needs when no URL is given."""
