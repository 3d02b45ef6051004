"""lagwatch's command line: `main` parses the arguments (exporter/cli/parser.py) and runs the command they name
(exporter/cli/commands.py), which prints for humans and returns the exit code. Only this package reads argv
and prints; the work is done in exporter/runtime/ and exporter/top/.
"""

from __future__ import annotations

from collections.abc import Sequence

from exporter.cli.commands import COMMANDS
from exporter.cli.parser import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, build_parser

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    return COMMANDS[args.command](args)
