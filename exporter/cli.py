"""The composition root: parses arguments, loads config, builds clients, runs a command.

Only this module reads argv, prints for humans, and turns failures into exit codes.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from exporter import __version__

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

DESCRIPTION = """\
lagwatch measures Kafka consumer lag and ships it to Elasticsearch.

Every scrape interval it reads, with a few batched admin requests and without ever
joining a group or committing an offset, each group's committed offsets and each
partition's log-end offset, computes lag (messages and seconds), rates and status,
and bulk-indexes the results for Kibana dashboards and alerts.
"""

EPILOG = """\
commands in the order you usually need them:
  lagwatch devstack                     start a local Kafka + Elasticsearch (needs a JDK and Maven)

environment:
  LAGWATCH_CACHE      where the local stack keeps downloaded jars (default ~/.cache/lagwatch)
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump, no traceback
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lagwatch",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"lagwatch {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    devstack = commands.add_parser(
        "devstack",
        help="run a local Kafka broker and Elasticsearch node until interrupted",
        description="Start a throw-away Kafka broker and Elasticsearch node on 127.0.0.1, fetched "
        "from Maven Central into the cache on first use, and keep them running until Ctrl-C.",
    )
    devstack.set_defaults(handler=_cmd_devstack)
    return parser


def _cmd_devstack(args: argparse.Namespace) -> int:
    from exporter.devstack import ElasticsearchNode, KafkaBroker
    from exporter.devstack.common import StackError

    kafka, es = KafkaBroker(), ElasticsearchNode()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        kafka.start()
        es.start()
        print(f"kafka bootstrap:  {kafka.bootstrap}")
        print(f"elasticsearch:    {es.url}")
        print("press Ctrl-C to stop and remove both")
        stop.wait()
    except StackError as exc:
        print(f"lagwatch: local stack failed: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        es.stop()
        kafka.stop()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_OK
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
