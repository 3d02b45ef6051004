"""The fault schedule, drawn from the seed alone (pure: the same seed and length give the same schedule).

Faults arrive at random (exponential gaps) and overlap, within what keeps the test meaningful: at most one of
the three controller-voting brokers is down or frozen at a time (two would take the quorum, and the cluster
with it), one fault of the Elasticsearch node at a time, one proxy mode at a time, one fault per lagwatch
process at a time. Some faults happen at most once (a broker added, a replica killed for good, the topic
deleted). Every run, whatever its length, also gets the two faults the issue singles out, at fixed moments:
a freeze of the broker coordinating a group whose alert fires (the Kibana rule must hold through it) and a
lagwatch SIGKILL while Elasticsearch hangs (nothing it had produced may be lost).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

BROKERS = (1, 2, 3)
PROCESSES = ("plain", "fleet-a", "fleet-b")

# kind: (weight, shortest, longest duration in seconds; 0: an instant action)
KINDS: dict[str, tuple[float, float, float]] = {
    "broker_kill": (3, 10, 40),
    "broker_freeze": (3, 8, 30),
    "broker_restart": (2, 0, 0),
    "broker_add": (1, 0, 0),
    "es_kill": (2, 10, 40),
    "es_freeze": (2, 10, 30),
    "es_restart": (1, 0, 0),
    "es_reject": (2, 10, 60),
    "es_slow": (2, 10, 40),
    "sighup": (2, 0, 0),
    "sighup_change": (2, 0, 0),
    "lagwatch_kill": (3, 3, 20),
    "replica_kill_forever": (1, 0, 0),
    "group_create": (2, 0, 0),
    "group_delete": (2, 0, 0),
    "partitions_add": (1, 0, 0),
    "topic_delete": (1, 0, 0),
}
ONCE = {"broker_add", "replica_kill_forever", "topic_delete"}
# How long after its end a fault still holds its resource (restarts and catching up take time).
RECOVERY_S = {"broker_kill": 40, "broker_restart": 40, "broker_freeze": 15, "es_kill": 40, "es_restart": 40,
              "es_freeze": 10, "lagwatch_kill": 10}


@dataclass(frozen=True)
class Fault:
    at: float  # seconds after the soak's start
    kind: str
    target: str  # a broker id, "coordinator" (of a firing group), "es", "proxy", a process, or ""
    duration: float

    def as_dict(self) -> dict:
        return asdict(self)


def _resource(kind: str, target: str) -> str:
    if kind.startswith("broker_") and kind != "broker_add" and target in ("1", "2", "3", "coordinator"):
        return "voters"
    if kind in ("es_kill", "es_freeze", "es_restart"):
        return "es"
    if kind in ("es_reject", "es_slow"):
        return "proxy"
    if kind in ("sighup", "sighup_change", "lagwatch_kill", "replica_kill_forever"):
        return f"process:{target}"
    return kind


def draw(seed: int, minutes: float, mean_gap_s: float | None = None) -> list[Fault]:
    """Faults for a run of `minutes`, from `warm-up` (20 s) to 45 s before its end (the last of them settle
    before the final accounting)."""
    rng = random.Random(seed)
    length = minutes * 60
    start, end = 20.0, length - 45.0
    gap = mean_gap_s if mean_gap_s is not None else (12.0 if minutes <= 5 else 25.0)
    busy: dict[str, float] = {}  # resource -> busy until
    gone: dict[str, float] = {}  # process -> when it is killed for good
    done_once: set[str] = set()
    faults: list[Fault] = []

    def take(at: float, kind: str, target: str, duration: float) -> bool:
        resource = _resource(kind, target)
        if busy.get(resource, 0) > at or gone.get(target, float("inf")) <= at + duration + 5:
            return False
        busy[resource] = at + duration + RECOVERY_S.get(kind, 5)
        faults.append(Fault(round(at, 1), kind, target, round(duration, 1)))
        if kind in ONCE:
            done_once.add(kind)
        if kind == "replica_kill_forever":
            gone[target] = at
        return True

    # The two the issue singles out, at fixed moments (a stalled group is firing by then).
    first = min(start + 40, end)
    take(first, "broker_freeze", "coordinator", 20)
    take(first + 30, "es_freeze", "es", 25)
    take(first + 38, "lagwatch_kill", "plain", 5)
    if minutes > 5:  # a replica killed for good: late enough that the fleet's rebalances were seen first
        take(length * 0.6, "replica_kill_forever", "fleet-b", 0)
    kinds, weights = zip(*((k, w) for k, (w, _, _) in KINDS.items()))
    at = start
    while True:
        at += rng.expovariate(1 / gap)
        if at >= end:
            break
        for _ in range(6):
            kind = rng.choices(kinds, weights)[0]
            if kind in done_once or kind == "replica_kill_forever":
                continue
            _, low, high = KINDS[kind]
            duration = rng.uniform(low, high) if high else 0.0
            duration = min(duration, max(0.0, end - at))
            if take(at, kind, _target(rng, kind), duration):
                break
    return sorted(faults, key=lambda f: f.at)


def _target(rng: random.Random, kind: str) -> str:
    if kind in ("broker_kill", "broker_freeze", "broker_restart"):
        return rng.choice([*map(str, BROKERS), "coordinator"])
    if kind.startswith("es_"):
        return "proxy" if kind in ("es_reject", "es_slow") else "es"
    if kind in ("sighup", "sighup_change", "lagwatch_kill"):
        return rng.choice(PROCESSES)
    return ""
