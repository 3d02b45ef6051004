"""What runtime/http reads from a running daemon, holding fixed values: a pipeline's status, the sink's
health, the daemon itself (for the endpoint and /readyz tests; the values are the real dataclasses)."""

from __future__ import annotations


class Pipeline:
    def __init__(self, status):
        self._status = status

    def status(self):
        return self._status


class Sink:
    def __init__(self, health):
        self._health = health

    def health(self):
        return self._health


class Daemon:
    def __init__(self, pipelines=(), sink=None):
        self.pipelines = list(pipelines)
        self.sink = sink
