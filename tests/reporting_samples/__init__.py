"""Sample suites and helpers for the reporter's self-tests (tests/test_reporting*.py)."""
