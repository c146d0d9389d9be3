"""Temporary: the worker's composition until the restructured ``api/tasks.py`` lands."""

from api.outbox.runner import make_worker

__all__ = ["make_worker"]
