"""Golden outputs: what lagwatch's documents were, fixed, for estates built without a broker (bench/model_cpu.py).

tests/resources/golden/ holds, for the tiny estate TINY (every anomaly bench.model_cpu knows, 3 scrapes), every
document as JSON lines (one `{"_id": ..., <fields>}` per document, keys sorted: a diff shows what changed),
for the bench's estates W and G (scaled, with and without anomalies, 3 scrapes) a SHA-256 of the same lines,
and one for the tiny estate over 14 scrapes (full status windows: the statuses' every rule). They were first written by the dict documents (exporter/output/documents.py + exporter/sinks/bulk.py
at 3dc3fd1, proven equal to the bytes by tests/unit/test_encode_oracle.py at that commit) and are compared
with today's `_bulk` bytes by tests/unit/test_golden_documents.py.

A change to the documents that is meant (a new field, a fixed value) is written into the goldens with
`python -m tests.unit.golden --write`; its commit says why, and the diff of the tiny estate's file shows what.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec

from bench.estate_spec import ESTATES, EstateSpec
from bench.model_cpu import snapshots
from exporter.alerts.engine import Alerting
from exporter.lag import report as lag
from exporter.lag.model import LagReport

GOLDEN = Path(__file__).parent.parent / "resources" / "golden"
TINY = EstateSpec("T", topics=8, partitions=2, groups=40, partitions_per_group=(1, 2, 3), records=20)
DIGEST_CASES = [("W", 0.25, False), ("W", 0.25, True), ("G", 0.1, False), ("G", 0.1, True)]
SCRAPES = 3
LONG_SCRAPES = 14  # the tiny estate again, past a full status window (10 scrapes): STALL, WARN, STOP, REWIND

Render = Callable[[LagReport, object], list[tuple[str, dict]]]  # (report, statuses) -> (id, source) per document


def bulk_documents(bodies: list[bytes]) -> list[tuple[str, dict]]:
    """(id, source) per document of `_bulk` bodies, in order."""
    out = []
    for body in bodies:
        lines = body.split(b"\n")
        for action, source in zip(lines[0:-1:2], lines[1:-1:2]):
            ((_, target),) = msgspec.json.decode(action).items()
            out.append((target["_id"], msgspec.json.decode(source)))
    return out


def render_today(report: LagReport, statuses) -> list[tuple[str, dict]]:
    from exporter.output import encode

    batches = encode.encode(report, "partition", 120.0, "bench", statuses, delivery={"indexed": 7})
    return bulk_documents([batch.body for batch in batches])


def lines(spec: EstateSpec, anomalies: bool, render: Render = render_today, scrapes: int = SCRAPES) -> Iterator[bytes]:
    """One JSON line per document of every scrape (keys sorted, `_id` among them)."""
    alerting = Alerting("bench")
    previous, histories = None, {}
    for snapshot in snapshots(spec, scrapes, 120.0, anomalies):
        histories = lag.update_histories(histories, snapshot, previous)
        report = lag.build_report(snapshot, previous, histories)
        for doc_id, source in render(report, alerting.evaluate(report)):
            yield json.dumps({"_id": doc_id, **source}, sort_keys=True, separators=(",", ":")).encode()
        previous = snapshot


def digest(spec: EstateSpec, anomalies: bool, render: Render = render_today, scrapes: int = SCRAPES) -> str:
    hasher = hashlib.sha256()
    for line in lines(spec, anomalies, render, scrapes):
        hasher.update(line + b"\n")
    return hasher.hexdigest()


def case_name(estate: str, scale: float, anomalies: bool) -> str:
    return f"{estate}x{scale:g}{'-anomalies' if anomalies else ''}"


def write(render: Render = render_today) -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(GOLDEN / "tiny-anomalies.ndjson.gz", "wb", mtime=0) as out:  # mtime 0: same bytes each time
        for line in lines(TINY, True, render):
            out.write(line + b"\n")
    digests = {case_name(e, s, a): digest(ESTATES[e].scaled(s), a, render) for e, s, a in DIGEST_CASES}
    digests[f"tiny-anomalies-{LONG_SCRAPES}-scrapes"] = digest(TINY, True, render, LONG_SCRAPES)
    (GOLDEN / "digests.json").write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.unit.golden", description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="write today's documents into the golden files")
    args = parser.parse_args(argv)
    if not args.write:
        parser.print_help()
        return 2
    write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
