"""CPU of the lag model and statuses on a synthetic estate, without a broker (issue #14 item 3).

    python -m bench.model_cpu [--estate G] [--scale 1] [--runs 3] [--scrapes 2] [--anomalies] [--digest]

Builds, in this process, the ClusterSnapshots a scrape of a bench estate (bench/estate.py: W or G) returns,
one per scrape, `--interval-s` apart: every partition's log end moves a little, a share of the groups commit
again. Then times, with CPU time (time.process_time; best of `--runs`, each run a fresh daemon state), the
stages bench/stages.py times against a real broker, calling the same functions:

- time_lag_histories: `report.update_histories`;
- lag_model: `report.build_report` minus the `timelag.estimate` calls it makes (timed in a pass of their own,
  as bench/stages.py does: time_lag_estimates);
- statuses: `Alerting.evaluate` (default StatusConfig: statuses on, no rules, no store);
- bulk_bytes: `encode.encode` consumed whole (the report's rows and statuses to `_bulk` bytes);
- write_ahead (`--write-ahead DIR`): the delivery queue's write-ahead of those batches (exporter/sinks/
  writeahead.py: one file written and removed per batch, what a scrape pays for surviving kill -9), CPU and
  wall time (`write_ahead_wall`: it is disk I/O; put DIR on the spool's volume).

`--anomalies` sprinkles what the lag model must get exactly right (an unreadable topic, partitions without a
leader, unread committed offsets, a group whose offsets could not be read, members with assignments, commits
beyond the log end and below the log start, a share group with the broker's lag, a deleted and a recreated
topic, a log end going backwards, broker time probes). `--digest` prints a SHA-256 of every scrape's
documents and statuses: the same on two commits means the same output (an exactness check across a
change, not a replacement for the tests). Prints one JSON line (the digest on stderr too).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import zlib

from bench.estate import ESTATES, EstateSpec

RETENTION_MS = 7 * 86400 * 1000


def _offset(group: str, tp: tuple[str, int], records: int) -> int:
    """A committed offset between 0 and the log end, fixed per pair (cheaper than estate.committed_offset)."""
    return zlib.crc32(f"{group}/{tp[0]}/{tp[1]}".encode()) % (records + 1)


def snapshots(spec: EstateSpec, scrapes: int, interval_s: float, anomalies: bool, start: float = 1.7e9):
    """One ClusterSnapshot per scrape of the estate, as the collector would build them."""
    from exporter.lag.model import (
        ClusterSnapshot,
        GroupObservation,
        Member,
        PartitionOffsets,
        ScrapeError,
        TopicInfo,
    )

    assignments = list(spec.assignments())
    topic_names = [spec.topic(i) for i in range(spec.topics)]
    for n in range(scrapes):
        at = start + n * interval_s
        topics = {
            t: TopicInfo(t, spec.partitions, f"id-{t}" + ("-new" if anomalies and i == 1 and n >= 1 else ""),
                         RETENTION_MS)
            for i, t in enumerate(topic_names)
        }
        errors = []
        partitions = {}
        for i, t in enumerate(topic_names):
            for p in range(spec.partitions):
                log_end = spec.records + n * ((i + p) % 3)  # some partitions quiet, some produced into
                log_start, leader, error = 0, 1, None
                if anomalies:
                    if i == 2 and p == 0 and n % 4 == 2:
                        log_end, leader, error = None, None, "LeaderNotAvailableError"
                    if i == 3:
                        log_start = 5
                    if i == 4 and n == 2:
                        log_end = 3  # went backwards: a fresh history
                partitions[(t, p)] = PartitionOffsets(t, p, log_end, log_start, leader, error)
        time_probes = {}
        if anomalies:
            unreadable = topic_names[5]
            for p in range(spec.partitions):
                del partitions[(unreadable, p)]
            errors.append(ScrapeError("topic", unreadable, "UnknownServerError"))
            time_probes = {(topic_names[6], 0): ((at - 3600, 2), (at - 600, 10))}
        groups = []
        for index, (group, tps) in enumerate(assignments):
            moved = index % 5 < n % 5  # a share of the groups commit again between scrapes
            committed = {tp: min(_offset(group, tp, spec.records) + (n if moved else 0),
                                 partitions[tp].log_end_offset or spec.records) if tp in partitions
                         else _offset(group, tp, spec.records) for tp in tps}
            kwargs = {}
            if anomalies and index < 40:
                kind = index % 10
                if kind == 0:
                    kwargs = {"members": (Member(f"m-{group}", "app", "/10.0.0.1", tuple(tps)),), "state": "Stable"}
                elif kind == 1:
                    kwargs = {"committed_unread": (tps[0],)}
                    committed.pop(tps[0], None)
                elif kind == 2 and n % 3 == 1:
                    kwargs = {"committed_read": False, "error": "CoordinatorNotAvailableError",
                              "committed_unread": tuple(tps)}
                    errors.append(ScrapeError("group", group, "CoordinatorNotAvailableError"))
                    committed = {}
                elif kind == 3:
                    committed = {tp: spec.records + 7 for tp in tps}  # beyond the log end
                elif kind == 4:
                    committed[("deleted-topic", 0)] = 4
                elif kind == 5:
                    kwargs = {"group_type": "share", "protocol_type": "share",
                              "broker_lag": {tp: 3 for tp in tps}}
                elif kind == 6:
                    kwargs = {"members": (Member(f"m-{group}", "app", "/10.0.0.2", ()),), "state": "Stable"}
            groups.append(GroupObservation(**{
                "group": group, "state": "Empty", "protocol_type": "consumer", "group_type": "classic",
                "coordinator": 1, "committed": committed, **kwargs,
            }))
        yield ClusterSnapshot(
            cluster="bench", taken_at=at, topics=topics, partitions=partitions, groups=tuple(groups),
            errors=tuple(errors), requests={"OffsetFetch": 33}, duration_s=1.0, time_probes=time_probes,
        )


def _cpu(call, *args):
    started = time.process_time()
    result = call(*args)
    return result, time.process_time() - started


def _write_ahead(batches, directory) -> tuple[float, float]:
    """CPU and wall seconds to write each batch ahead and remove it again, as the delivery queue does."""
    from exporter.sinks.writeahead import WriteAhead

    ahead = WriteAhead(directory)
    wall, cpu = time.perf_counter(), time.process_time()
    for path in [ahead.write(batch) for batch in batches]:
        WriteAhead.settled(path)
    return time.process_time() - cpu, time.perf_counter() - wall


def run(snaps, with_documents: bool, digest, write_ahead=None) -> list[dict[str, float]]:
    """One daemon's life over the snapshots: CPU per stage per scrape; feeds the digest if given."""
    from exporter.alerts.engine import Alerting
    from exporter.lag import report, timelag
    from exporter.output import encode
    from exporter.runtime import gcpause

    alerting = Alerting("bench")
    previous, histories = None, {}
    out = []
    for snapshot in snaps:
        cpu: dict[str, float] = {}
        with gcpause.paused():
            histories, cpu["time_lag_histories"] = _cpu(report.update_histories, histories, snapshot, previous)
            built, model = _cpu(report.build_report, snapshot, previous, histories)

            def estimates():
                now = snapshot.taken_at
                for row in built.partitions:
                    timelag.estimate(histories.get((row.topic, row.partition), ()), row.committed_offset,
                                     row.log_end_offset, now)

            _, cpu["time_lag_estimates"] = _cpu(estimates)
            cpu["lag_model"] = max(0.0, model - cpu["time_lag_estimates"])
            statuses, cpu["statuses"] = _cpu(alerting.evaluate, built)
            if with_documents or digest is not None:
                batches = encode.encode(built, "partition", 120, "bench", statuses)
                if digest is None and write_ahead is not None:
                    batches, cpu["bulk_bytes"] = _cpu(list, batches)
                    cpu["write_ahead"], cpu["write_ahead_wall"] = _write_ahead(batches, write_ahead)
                    del batches
                elif digest is None:
                    _, cpu["bulk_bytes"] = _cpu(lambda: sum(batch.documents for batch in batches))
                else:
                    for doc in (doc for batch in batches for doc in batch.decode()):
                        digest.update(json.dumps(doc, sort_keys=True, default=str).encode())
                    for key, st in sorted(statuses.partitions.items()):
                        digest.update(repr((key, st.code.value, st.reason, st.settled)).encode())
                    for key, st in sorted(statuses.groups.items()):
                        digest.update(repr((key, st.code.value, st.reason, st.settled)).encode())
        out.append(cpu)
        previous = snapshot
        del built, statuses
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.model_cpu",
        description="CPU of the lag model and statuses stages on a synthetic estate (no broker): best of N.",
    )
    parser.add_argument("--estate", choices=sorted(ESTATES), default="G")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies topics and groups")
    parser.add_argument("--runs", type=int, default=3, help="best of this many runs per stage and scrape")
    parser.add_argument("--scrapes", type=int, default=2,
                        help="scrapes per run (2: first and next, like bench.stages; 12: status windows full)")
    parser.add_argument("--interval-s", type=float, default=120.0)
    parser.add_argument("--anomalies", action="store_true", help="sprinkle partial and unknown cases")
    parser.add_argument("--documents", action="store_true", help="also time the `_bulk` bytes (encode.encode)")
    parser.add_argument("--write-ahead", metavar="DIR",
                        help="with --documents: also time the delivery queue's write-ahead of the batches, in DIR")
    parser.add_argument("--digest", action="store_true",
                        help="print a SHA-256 of the documents and statuses (no timing)")
    args = parser.parse_args(argv)

    from exporter import logs

    logs.configure("warning")
    spec = ESTATES[args.estate] if args.scale == 1 else ESTATES[args.estate].scaled(args.scale)
    snaps = list(snapshots(spec, args.scrapes, args.interval_s, args.anomalies))
    if args.digest:
        digest = hashlib.sha256()
        run(snaps, False, digest)
        print(digest.hexdigest(), file=sys.stderr)
        print(json.dumps({"estate": spec.name, "scrapes": args.scrapes, "anomalies": args.anomalies,
                          "digest": digest.hexdigest()}))
        return 0
    runs = [run(snaps, args.documents, None, args.write_ahead) for _ in range(args.runs)]
    best = [{stage: round(min(r[i][stage] for r in runs), 4) for stage in runs[0][i]} for i in range(args.scrapes)]
    rows = sum(len(g.committed) for g in snaps[-1].groups)
    print(json.dumps({"estate": spec.name, "groups": len(snaps[0].groups), "committed_pairs": rows,
                      "runs": args.runs, "scrapes": best}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
