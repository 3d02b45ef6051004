"""Every command: check its arguments, load the config (exit 2 with every problem), hand the work to
exporter/runtime/ (the daemon, one scrape, the set-up) or exporter/top/, print the outcome and return the exit
code. The arguments and --help live in exporter/cli/parser.py."""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import sys
from collections.abc import Callable

from exporter.cli.parser import EXIT_FAILURE, EXIT_OK, EXIT_USAGE


# --- the config every command starts from -------------------------------------------------------


def _environ(args: argparse.Namespace) -> dict[str, str]:
    """The process environment, with --shard as the override it is (validated with the rest of the config)."""
    environ = dict(os.environ)
    if getattr(args, "shard", None):
        environ["LAGWATCH_SCRAPE__SHARD"] = args.shard
    return environ


def _read_config(args: argparse.Namespace):
    """The validated config from -c FILE (or the --bootstrap options) and LAGWATCH_*; raises ConfigError.
    The daemon calls it again at each SIGHUP."""
    from exporter import config as config_module

    if getattr(args, "bootstrap", None):
        return config_module.parse(_quick_tree(args), _environ(args))
    return config_module.load(args.config, _environ(args))


def _load_config(args: argparse.Namespace):
    """The validated config, or None after printing every problem (the caller exits 2)."""
    from exporter import config as config_module

    try:
        return _read_config(args)
    except config_module.ConfigError as exc:
        if getattr(args, "bootstrap", None):
            print("lagwatch: invalid --bootstrap options:", file=sys.stderr)
            for path, message in exc.problems:
                print(f"  {path}: {message}", file=sys.stderr)
            return None
        source = args.config or "environment (no -c FILE and no LAGWATCH_CONFIG)"
        for path, message in exc.problems:  # one line each, whole: easy to grep, nothing wraps into the next
            message = " ".join(str(message).split())
            print(f"lagwatch: invalid config from {source}: {path}: {message}", file=sys.stderr)
        return None


def _quick_tree(args: argparse.Namespace) -> dict:
    """The config tree of the one cluster named on the command line (validated like a file)."""
    security = {
        key: value
        for key, value in (
            ("protocol", args.security_protocol), ("sasl_mechanism", args.sasl_mechanism),
            ("username", args.username), ("password_file", args.password_file), ("ssl_cafile", args.ssl_cafile),
            ("ssl_certfile", args.ssl_certfile), ("ssl_keyfile", args.ssl_keyfile),
            ("ssl_password_file", args.ssl_password_file),
        )
        if value is not None
    }
    if args.no_ssl_check_hostname:
        security["ssl_check_hostname"] = False
    name = args.name or re.sub(r"[^A-Za-z0-9_.-]+", "-", args.bootstrap.split(",")[0]).strip("-") or "kafka"
    return {
        "clusters": [{"name": name, "bootstrap_servers": args.bootstrap, "security": security}],
        "scrape": {"interval_s": 10},
    }


def _configure_logging(config) -> None:
    from exporter import logs
    from exporter.runtime.secrets import register_secrets

    logs.configure(config.log.level, config.log.format)
    register_secrets(config)  # every secret, URL passwords (Kibana's, ...) included


def _with_config(*, logging: bool = True, check: Callable[[argparse.Namespace], str | None] | None = None):
    """The commands' one prologue: `check` the arguments, load the config (exit 2 with every problem) and,
    with `logging`, configure the log with every secret masked; the command gets (args, config)."""

    def decorate(command: Callable[[argparse.Namespace, object], int]) -> Callable[[argparse.Namespace], int]:
        @functools.wraps(command)
        def run(args: argparse.Namespace) -> int:
            problem = check(args) if check is not None else None
            if problem is not None:
                print(f"lagwatch: {problem}", file=sys.stderr)
                return EXIT_USAGE
            config = _load_config(args)
            if config is None:
                return EXIT_USAGE
            if logging:
                _configure_logging(config)
            return command(args, config)

        return run

    return decorate


# --- commands --------------------------------------------------------------------------------


@_with_config(logging=False)
def _cmd_check_config(args: argparse.Namespace, config) -> int:
    import yaml

    from exporter import config as config_module, versions

    print(yaml.safe_dump(config_module.redacted(config), sort_keys=False), end="")
    print(f"# config OK: {len(config.clusters)} cluster(s)", file=sys.stderr)
    print(versions.tested_line(), file=sys.stderr)
    return EXIT_OK


@_with_config()
def _cmd_check_access(args: argparse.Namespace, config) -> int:
    from exporter.cli import access

    return access.run(config, sys.stdout)


@_with_config()
def _cmd_once(args: argparse.Namespace, config) -> int:
    from exporter.output import table
    from exporter.runtime import oneshot

    failed = False
    reports = []
    for result in oneshot.scrape_once(config, index=args.index):
        if result is None:  # the cycle failed: its error is in the log
            failed = True
            continue
        failed = failed or not result.report.snapshot.up or result.sink_error is not None
        if args.output == "json":  # one document for every cluster: printed at the end
            reports.append(table.as_json(result.report))
        elif args.output == "jsonl":  # one line per cluster, as each is scraped
            print(json.dumps(table.as_json(result.report), separators=(",", ":")), flush=True)
        else:
            print(table.as_table(result.report))
    if args.output == "json":
        print(json.dumps({"clusters": reports}, indent=2))
    return EXIT_FAILURE if failed else EXIT_OK


@_with_config()
def _cmd_run(args: argparse.Namespace, config) -> int:
    from exporter.runtime import daemon
    from exporter.runtime.signals import DaemonSignals

    signals = DaemonSignals()  # before anything slow: a signal meanwhile is acted on once the daemon runs
    if config.coordination is not None:
        from exporter.coordination.coordinator import preflight

        problem = preflight(config)  # a missing or unfit topic only the operator can fix
        if problem is not None:
            print(f"lagwatch: {problem}", file=sys.stderr)
            return EXIT_USAGE
    if not daemon.run(config, signals, lambda: _read_config(args), source=args.config):
        # A scrape stuck on the network would keep the interpreter alive at exit; everything measured
        # before it is delivered or spooled, so leave now rather than miss the orchestrator's deadline.
        sys.stderr.flush()
        os._exit(EXIT_OK)
    return EXIT_OK


@_with_config()
def _cmd_setup(args: argparse.Namespace, config) -> int:
    from exporter.runtime import oneshot

    try:
        for line in oneshot.setup(config):
            print(line)
    except oneshot.SetupFailed as exc:
        print(f"lagwatch: setup failed: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def _top_arguments(args: argparse.Namespace) -> str | None:
    if args.interval is not None and not 0.5 <= args.interval <= 3600:
        return "--interval must be between 0.5 and 3600 seconds"
    if not 1 <= args.scrapes <= 1000 or (args.width is not None and args.width < 20) or (
        args.height is not None and args.height < 1
    ):
        return "--scrapes must be 1 to 1000, --width at least 20, --height at least 1"
    return None


@_with_config(logging=False, check=_top_arguments)
def _cmd_top(args: argparse.Namespace, config) -> int:
    from exporter.runtime.secrets import register_secrets
    from exporter.top import main as top

    state = top.detail_state(config, args.sort, args.filter, args.group)
    if args.once:
        _configure_logging(config)
        return top.once(config, state, args.width, args.interval, args.scrapes, args.svg, args.height)
    register_secrets(config)  # the live view configures its own log (kept off the screen)
    return top.live(config, state, args.interval, args.log_file)


# --- the local stack (devstack/: in a source checkout, not in the wheel or the image) ---------------


def devstack_missing(exc: ModuleNotFoundError) -> int:
    if not (exc.name or "").startswith("devstack"):
        raise exc
    # The container image leaves the local stack out (it downloads jars and needs a JDK).
    print(
        "lagwatch: demo and devstack are not in this installation (the container image leaves out the local "
        "stack): run them from a source checkout (pip install -e .) with a JDK 17+ and Maven",
        file=sys.stderr,
    )
    return EXIT_FAILURE


def _cmd_demo(args: argparse.Namespace) -> int:
    try:
        from devstack import demo
        from devstack.common import StackError
    except ModuleNotFoundError as exc:
        return devstack_missing(exc)
    from exporter.runtime.signals import stop_event

    stop = stop_event()
    try:
        return demo.run(stop, interval_s=args.interval, top=args.top, store=args.store)
    except StackError as exc:
        print(f"lagwatch: local stack failed: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def _cmd_devstack(args: argparse.Namespace) -> int:
    try:
        from devstack import ElasticsearchNode, KafkaBroker, OpenSearchNode
        from devstack.common import StackError
    except ModuleNotFoundError as exc:
        return devstack_missing(exc)
    from exporter.runtime.signals import stop_event

    kafka, es = KafkaBroker(), (OpenSearchNode() if args.store == "opensearch" else ElasticsearchNode())
    stop = stop_event()
    try:
        kafka.start()
        es.start()
        print(f"kafka bootstrap:  {kafka.bootstrap}")
        print(f"{args.store + ':':<17} {es.url}")
        print("press Ctrl-C to stop and remove both")
        stop.wait()
    except StackError as exc:
        print(f"lagwatch: local stack failed: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        es.stop()
        kafka.stop()
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "check-config": _cmd_check_config,
    "check-access": _cmd_check_access,
    "once": _cmd_once,
    "run": _cmd_run,
    "setup": _cmd_setup,
    "demo": _cmd_demo,
    "devstack": _cmd_devstack,
    "top": _cmd_top,
}
