"""Build a synthetic Kafka estate for the benchmark: T topics x P partitions with records, G groups with
committed offsets on a few partitions each.

    python -m bench.estate --bootstrap 127.0.0.1:9092 --estate W
    python -m bench.estate --bootstrap 127.0.0.1:9092 --topics 20 --partitions 5 --groups 100 \
        --partitions-per-group 1,2 --records 10

Named estates (issue #7): W (wide: 200 x 50 = 10,000 partitions, 1,000 groups of 50 partitions = 50,000
group-partition pairs) and G (many groups: 65,000 groups of one or two partitions on 200 x 2 partitions).

Offsets are committed the way a commit-only client does it (OffsetCommit with generation -1 and no member
id): the group exists with committed offsets and no members, like a stopped consumer. The commits are sent
as many OffsetCommit requests in flight at once through exporter.kafka.wire (bench/estate_steps.py), which is what makes 65,000
groups take seconds, not minutes.
"""


from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable

from kafka import KafkaAdminClient

from bench.estate_spec import ESTATES, EstateSpec
from bench.estate_steps import commit_offsets, create_topics, produce, wait_for_leaders


def stderr(message: str) -> None:
    sys.stderr.write(f"[estate] {message}\n")
    sys.stderr.flush()


def build(
    bootstrap: str, spec: EstateSpec, progress: Callable[[str], None] = stderr, groups_from: int = 0
) -> dict[str, float]:
    """Create topics, produce records, commit offsets; returns seconds per step. With `groups_from`, the
    topics and the first groups_from groups exist already (a grown estate): only the new groups commit."""
    progress(f"building {spec.describe()} on {bootstrap}")
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="bench-estate", request_timeout_ms=180_000,
        max_in_flight_requests_per_connection=8,
    )
    timings = {}
    try:
        if not groups_from:
            started = time.monotonic()
            create_topics(admin, spec, progress)
            wait_for_leaders(admin, spec, progress)
            timings["topics_s"] = time.monotonic() - started
            started = time.monotonic()
            produce(bootstrap, spec, progress)
            timings["records_s"] = time.monotonic() - started
        started = time.monotonic()
        commit_offsets(admin, spec, progress, groups_from=groups_from)
        timings["commits_s"] = time.monotonic() - started
    finally:
        admin.close()
    progress(f"estate {spec.name} built: " + ", ".join(f"{k}={v:.1f}" for k, v in timings.items()))
    return timings


def spec_from_args(args: argparse.Namespace) -> EstateSpec:
    base = ESTATES[args.estate] if args.estate else EstateSpec("custom", 10, 5, 50, (1, 2), 10)
    changes = {}
    for name in ("topics", "partitions", "groups", "records", "prefix"):
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    if args.partitions_per_group:
        changes["partitions_per_group"] = tuple(int(x) for x in args.partitions_per_group.split(","))
    spec = dataclasses.replace(base, **changes)
    if args.scale != 1:
        spec = spec.scaled(args.scale)
    return spec


def add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--estate", choices=sorted(ESTATES), help="a named estate (other options override it)")
    parser.add_argument("--topics", type=int)
    parser.add_argument("--partitions", type=int, help="partitions per topic")
    parser.add_argument("--groups", type=int)
    parser.add_argument("--partitions-per-group", help="comma-separated sizes, cycled over groups, e.g. 1,2")
    parser.add_argument("--records", type=int, help="records per partition")
    parser.add_argument("--prefix", help="name prefix of topics and groups (default bench)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply topics and groups (e.g. 0.01)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.estate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", required=True, help="host:port of the broker to fill (127.0.0.1 only)")
    add_spec_arguments(parser)
    args = parser.parse_args(argv)
    build(args.bootstrap, spec_from_args(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
