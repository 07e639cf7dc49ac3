"""Tests of observability and operations (issue 7): history, health, metrics, deploy."""
