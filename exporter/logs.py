"""structlog set-up: one JSON (or console) line per event, stable snake_case event names.

Secrets are redacted twice: config values are SecretStr (printing shows '**********'), and a final
processor masks every registered secret value wherever it appears in an event, including exception text.
"""

from __future__ import annotations

import logging
import sys
import threading

import structlog

_secrets: set[str] = set()
_lock = threading.Lock()
MASK = "**********"


def register_secret(value: str | None) -> None:
    """Remember a secret so it is masked in every log line, whatever code path tries to log it."""
    if value and len(value) >= 3:
        with _lock:
            _secrets.add(value)


def mask(text: str) -> str:
    """`text` with every registered secret replaced by '**********'."""
    for secret in tuple(_secrets):  # a copy: a reload may register secrets while other threads log
        if secret in text:
            text = text.replace(secret, MASK)
    return text



def failure_text(exc: BaseException) -> str:
    """An exception as `Name: message`, the name once: kafka-python's errors start their text with it already."""
    text, name = str(exc), type(exc).__name__
    if text.startswith(name):
        return text
    return f"{name}: {text}" if text else name


def _mask_value(value):
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_mask_value(v) for v in value)
    if isinstance(value, dict):
        return {k: _mask_value(v) for k, v in value.items()}
    return value


def _redact(_, __, event_dict):
    if not _secrets:
        return event_dict
    return {key: _mask_value(value) for key, value in event_dict.items()}


class _CurrentStderr:
    """Whatever sys.stderr is when a line is written (not when logging was configured), so a logger set up
    while stderr was temporarily redirected never writes into a closed stream later."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure(level: str = "info", fmt: str = "json", stream=None) -> None:
    stream = stream or _CurrentStderr()
    renderer = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    # Library loggers (kafka-python, elastic_transport, urllib3, asyncio) and Python's warnings go through the
    # same renderer and masking: with JSON logging every line on stderr is one JSON object, a library's
    # traceback inside its `exception` field instead of lines of its own.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.stdlib.add_logger_name,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _redact,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.captureWarnings(True)  # warnings.warn(...) (urllib3, elasticsearch) as py.warnings records
    # kafka-python logs several lines per failed connection attempt, every retry: a broker outage would
    # flood the log. lagwatch reports each failure once per scrape (scrape_failed / scrape_error) with the
    # cluster named; the library's own lines only show at log.level debug.
    logging.getLogger("kafka").setLevel(logging.WARNING if level == "debug" else logging.CRITICAL)
    # A thread that dies of an exception would print its traceback on stderr: one event instead.
    threading.excepthook = _thread_crashed


def _thread_crashed(args) -> None:
    if args.exc_type is SystemExit:
        return
    get().error(
        "thread_crashed", thread=args.thread.name if args.thread else None,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )


def get(name: str = "lagwatch"):
    return structlog.get_logger(name)
