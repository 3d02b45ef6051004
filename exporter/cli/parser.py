"""lagwatch's command line: every command, its arguments and its --help text, and the exit codes.

Parsing only: exporter/cli/__init__.py runs the commands.
"""

from __future__ import annotations

import argparse
import os

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
  lagwatch check-config -c lagwatch.yaml   validate a config; print it with secrets redacted
  lagwatch check-access -c lagwatch.yaml   what lagwatch may do on Kafka and Elasticsearch, what is missing
  lagwatch once -c lagwatch.yaml           one scrape, printed like kafka-consumer-groups --describe
  lagwatch top -c lagwatch.yaml            live terminal view of lag per group (or: top --bootstrap HOST:PORT)
  lagwatch setup -c lagwatch.yaml          index template + Kibana dashboards and rule (idempotent)
  lagwatch run -c lagwatch.yaml            the daemon: scrape every interval, index into Elasticsearch
  lagwatch demo [--store opensearch]       local Kafka + Elasticsearch (or OpenSearch) + demo traffic + the daemon
  lagwatch devstack [--store opensearch]   only the local Kafka + Elasticsearch (or OpenSearch; needs a JDK, Maven)

environment:
  LAGWATCH_CONFIG            config file used when -c is not given
  LAGWATCH_<SECTION>__<KEY>  overrides one option, e.g. LAGWATCH_SCRAPE__INTERVAL_S=10,
                             LAGWATCH_ELASTICSEARCH__PASSWORD=...; list items by index
                             (LAGWATCH_GROUPS__DENY__0=test-.*); bootstrap_servers, hosts and
                             probe_ages_s also take one comma-separated value
  LAGWATCH_STATE_DIR         spool and alert state (default ~/.local/state/lagwatch)
  LAGWATCH_CACHE             where the local stack keeps downloaded jars (default ~/.cache/lagwatch)

exit codes: 0 ok, 1 runtime failure, 2 bad usage or invalid config
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump, no traceback
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        default=os.environ.get("LAGWATCH_CONFIG"),
        help="YAML config file (default: $LAGWATCH_CONFIG); LAGWATCH_* variables override it",
    )


def _add_shard(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--shard",
        metavar="I/N",
        help="report only shard I of N (0 <= I < N) of the consumer groups, split by a stable hash of "
        "the group name; run N processes (0/N ... N-1/N) for large estates, two per shard for HA "
        "(replicas write identical document ids: no duplicates). Overrides scrape.shard",
    )


def _add_store(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store", choices=("elasticsearch", "opensearch"), default="elasticsearch",
        help="the local store: an Elasticsearch node (default) or an OpenSearch node, whose dashboards are "
        "kibana/opensearch-dashboards/ (docs/opensearch.md)",
    )


def build_parser() -> argparse.ArgumentParser:
    """Every command's arguments; `args.command` names the command (None: none given)."""
    parser = _Parser(
        prog="lagwatch",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"lagwatch {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    check = commands.add_parser(
        "check-config",
        help="validate a config file and print the effective config (secrets redacted)",
        description="Load the config file plus LAGWATCH_* overrides, and print either the effective "
        "config as YAML with secrets shown as ********** (exit 0) or every problem with its field "
        "path (exit 2).",
    )
    _add_config(check)

    access = commands.add_parser(
        "check-access",
        help="what lagwatch may do on each cluster and on Elasticsearch: granted, missing, and the grant that fixes it",
        description="Connect to every configured cluster as lagwatch does, scrape once, and print for the groups "
        "and topics it watches what its principal is allowed (from Kafka's authorized operations) and what is "
        "missing, each with the kafka-acls command that grants it; then ask Elasticsearch (_has_privileges) "
        "whether its user has every privilege lagwatch uses on its indices. Reads only.",
        epilog="exit codes: 0 nothing missing, 1 something lagwatch needs is missing (or a cluster could not be "
        "read), 2 invalid config. docs/access.md lists every ACL and the Elasticsearch role.",
    )
    _add_config(access)

    once = commands.add_parser(
        "once",
        help="scrape every cluster once and print lag (nothing indexed unless --index)",
        description="One scrape of every configured cluster, printed like `kafka-consumer-groups "
        "--describe --all-groups` plus lag in seconds and items. Reads only; indexes nothing unless --index.",
    )
    _add_config(once)
    once.add_argument("--output", choices=("table", "json", "jsonl"), default="table",
                      help="table (default); json: one document, {\"clusters\": [...]}, one entry per cluster; "
                      "jsonl: one line per cluster, printed as each is scraped")
    once.add_argument("--index", action="store_true", help="also bulk-index the documents into Elasticsearch")
    _add_shard(once)
    _add_quick_cluster(once)

    run = commands.add_parser(
        "run",
        help="run the exporter daemon",
        description="Scrape every cluster every scrape.interval_s and bulk-index lag documents into "
        "Elasticsearch, one summary log line per scrape, until SIGTERM or SIGINT.",
    )
    _add_config(run)
    _add_shard(run)

    setup = commands.add_parser(
        "setup",
        help="install the index template; import the Kibana dashboards and create the rule",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Prepare Elasticsearch and Kibana for lagwatch, then print what was done. Safe to run
again at any time (after an upgrade, say): every step converges to the same state.

  1. Elasticsearch: installs the index templates <index_prefix>-lag and, with alerts.index,
     <index_prefix>-alerts (mapping, shards, and the alias for daily indices or the
     data-stream lifecycle; see elasticsearch.storage).
  2. Kibana, when kibana.url is set: imports the data views, Lens panels and the Overview,
     Group detail and Alerts dashboards (kibana/lagwatch-saved-objects.ndjson, data views
     renamed for your index_prefix) through the saved-objects import API, overwriting
     earlier copies, into kibana.space.
  3. Kibana, unless kibana.rule is false: creates the Elasticsearch query rule
     lagwatch-time-lag (kibana/lagwatch-rule.json; one alert per group whose time lag
     reaches kibana.rule_time_lag_s), or updates it, keeping connectors added in Kibana.

Kibana credentials: kibana.username + kibana.password(_file), or kibana.api_key(_file);
the user needs the saved-objects and rules privileges of the target space.
Without Kibana: Stack Management > Saved objects > Import, and pick the .ndjson file.""",
        epilog="exit codes: 0 done, 1 Elasticsearch or Kibana failed (nothing after the failing step ran), "
        "2 invalid config",
    )
    _add_config(setup)

    demo = commands.add_parser(
        "demo",
        help="local Kafka + Elasticsearch, a demo producer and a slow consumer, and the daemon",
        description="Start a local Kafka broker and Elasticsearch node (fetched from Maven Central on "
        "first use), produce demo traffic with a consumer that cannot keep up and then catches up, and "
        "run the daemon against them, indexing into the local Elasticsearch. Ctrl-C stops everything.",
    )
    demo.add_argument("--interval", type=float, default=5.0, metavar="SECONDS", help="scrape interval (default 5)")
    demo.add_argument("--top", action="store_true", help="show the live view (lagwatch top) in this terminal")
    _add_store(demo)

    devstack = commands.add_parser(
        "devstack",
        help="run a local Kafka broker and Elasticsearch node until interrupted",
        description="Start a throw-away Kafka broker and Elasticsearch node on 127.0.0.1, fetched "
        "from Maven Central into the cache on first use, and keep them running until Ctrl-C.",
    )
    _add_store(devstack)
    _add_top(commands)
    return parser


# --- lagwatch top, and the --bootstrap quick form of top and once ------------------------------


def _add_quick_cluster(parser: argparse.ArgumentParser) -> None:
    quick = parser.add_argument_group(
        "one cluster without a config file (like kafka-consumer-groups --bootstrap-server)",
        "With --bootstrap no config file is read; LAGWATCH_* variables still apply, e.g. "
        "LAGWATCH_CLUSTERS__0__SECURITY__PASSWORD instead of --password-file.",
    )
    quick.add_argument("--bootstrap", "--bootstrap-server", metavar="HOST:PORT[,HOST:PORT]",
                       help="the cluster's bootstrap servers")
    quick.add_argument("--name", metavar="NAME", help="the cluster's name in the output (default: from --bootstrap)")
    quick.add_argument("--security-protocol", choices=("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"))
    quick.add_argument("--sasl-mechanism", choices=("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"))
    quick.add_argument("--username", metavar="USER", help="SASL user")
    quick.add_argument("--password-file", metavar="FILE", help="file holding the SASL password")
    quick.add_argument("--ssl-cafile", metavar="FILE", help="CA certificate(s) to verify the brokers with")
    quick.add_argument("--ssl-certfile", metavar="FILE", help="client certificate (mutual TLS)")
    quick.add_argument("--ssl-keyfile", metavar="FILE", help="client private key (mutual TLS)")
    quick.add_argument("--ssl-password-file", metavar="FILE", help="file holding the private key's password")
    quick.add_argument("--no-ssl-check-hostname", action="store_true", help="do not check the brokers' host names")


def _add_top(commands) -> None:
    from exporter.top.rows import SORT_KEYS

    top = commands.add_parser(
        "top",
        help="live full-screen view of lag per group, read straight from Kafka",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
A live view of every consumer group of every configured cluster (or of the one cluster
named with --bootstrap), refreshed every scrape: lag in messages and time, a sparkline
of the last scrapes, consume/produce rates, catch-up ETA and status. It reads Kafka
with the daemon's own collector and never writes to Elasticsearch, so it works when
Elasticsearch is down.

keys:  l t s n   sort by lag, time lag, status, name
       /         filter (regex on group, cluster or topic; Enter applies, Esc clears)
       Enter     open the selected group: its topics and partitions; Esc goes back
       ↑ ↓ PgUp PgDn Home End   move;   q quit

`?` is a value that could not be read, `≥N` a total with unreadable partitions
(N is what was read), `-` never committed; never 0 for unknown.""",
    )
    _add_config(top)
    _add_quick_cluster(top)
    top.add_argument("--once", action="store_true", help="print one frame as text and exit (no colours unless a terminal)")
    top.add_argument("--interval", type=float, metavar="SECONDS",
                     help="seconds between scrapes (default: scrape.interval_s, 10 with --bootstrap)")
    top.add_argument("--sort", choices=SORT_KEYS, default="lag", help="initial sort (default: lag)")
    top.add_argument("--filter", metavar="PATTERN", default="", help="initial filter")
    top.add_argument("--group", metavar="[CLUSTER/]GROUP", help="open this group (with --once: print its partitions)")
    top.add_argument("--width", type=int, metavar="COLUMNS", help="frame width for --once (default: the terminal's, or 80)")
    top.add_argument("--scrapes", type=int, default=1, metavar="N",
                     help="with --once: scrape N times, --interval apart, before printing (rates and trends need 2+)")
    top.add_argument("--height", type=int, metavar="ROWS",
                     help="with --once: print what a screen this high shows (default: every group, no key help)")
    top.add_argument("--svg", metavar="FILE", help="with --once: also save the frame as an SVG picture")
    top.add_argument("--log-file", metavar="FILE", help="append the log here (by default the live view keeps none)")
