"""One soak: the services, the workload, the three lagwatch processes, the faults, the checks, the figures.

Every phase is bounded in time; whatever happens, everything started here is stopped at the end.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
import uuid
from pathlib import Path

from elasticsearch import Elasticsearch

from bench.soak import analysis, members
from bench.soak.checks import DocChecks
from bench.soak.faults import Faults
from bench.soak.replicas import FLEET_A, FLEET_B, PLAIN, Replicas
from bench.soak.report import report
from bench.soak.schedule import draw
from bench.soak.stack import KAFKA_VERSION, Stack
from bench.soak.truth import Truth
from bench.soak.watch import KibanaWatch, MetricsWatch
from bench.soak.workload import Plan, Workload

RULE_TIME_LAG_S = 20  # the soak's stalled groups pass it within a minute; the shipped rule's default is 300


def _wait(check, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not yet
            pass
        time.sleep(1.0)
    raise RuntimeError(f"soak set-up: {what} not within {timeout_s:.0f}s")


def _committed(workload: Workload, plan: Plan) -> bool:
    """Commit once more; True when every partition's commit has been acknowledged."""
    workload.commit(plan, workload.targets(plan))
    committed = workload.truth.groups[plan.name].committed
    return bool(committed) and all(s.settled for s in committed.values())


def set_up(workload: Workload, workdir: Path, deadline: float, progress, share_group: bool = True) -> list:
    """Topics and groups; returns what must be closed at the end. The share group is made on a thread of its
    own (Kafka's tools take a minute or two on a busy machine): its truth starts when it is done; none on a
    cluster whose release has share groups only as a preview (`share_group` false)."""
    from devstack.common import java_home
    from devstack.maven import kafka_libs

    t = [workload.create_topic(f"t{i}") for i in range(4)]
    share_topic = workload.create_topic("share", partitions=2, produce=False) if share_group else None
    doomed = workload.create_topic("doomed", partitions=2)
    def share() -> None:
        try:
            members.share_group(workload, share_plan, KAFKA_VERSION)
        except Exception as exc:  # noqa: BLE001 - the soak goes on; the report shows the group never checked
            progress(f"the share group could not be set up: {type(exc).__name__}: {exc}")

    if share_group:
        share_plan = Plan(workload.name("share-0"), "share", (share_topic,))
        workload.plans[share_plan.name] = share_plan
        threading.Thread(target=share, name="soak-share-setup", daemon=True).start()
    kip = Plan(workload.name("kip848-0"), "kip848", (t[1],))
    member = members.Kip848Member(workload, kip, java_home() / "bin" / "java", kafka_libs(KAFKA_VERSION),
                                  workdir / "kip848-member.log")
    workload.start(deadline)
    for suffix, kind, topics in (("steady-0", "steady", (t[0],)), ("steady-1", "steady", (t[1], t[2])),
                                 ("stall-0", "stall", (t[0],)), ("stall-1", "stall", (t[3],)),
                                 ("doomed-0", "doomed", (doomed,))):
        plan = workload.add_commit_only(suffix, kind, topics)
        if kind == "stall":  # stalled from the start, the first one long enough for the first broker freeze
            plan.stalled_until = time.time() + (150 if suffix == "stall-0" else 60)
            plan.running_until = plan.stalled_until + 30
    closing: list = [member]
    for suffix, topic in (("classic-0", t[1]), ("classic-1", t[3])):
        plan = Plan(workload.name(suffix), "classic", (topic,))
        begun = time.time()
        workload.truth.group(plan.name, "classic", begun, float("inf"))
        members.ClassicMember(workload, plan, deadline)
        workload.plans[plan.name] = plan
        _wait(lambda p=plan: _committed(workload, p), 120, f"{plan.name} committing")
        workload.truth.groups[plan.name].created = (begun, time.time())
    empty = Plan(workload.name("empty-0"), "empty", (t[2],))
    workload.plans[empty.name] = empty
    members.empty_group(workload, empty)
    member.make()
    workload.plans[kip.name] = kip  # the committer's ticks commit for it from now on
    progress(f"groups ready: {sorted('-'.join(p.name.split('-')[-2:]) for p in workload.plans.values())}; the share "
             "group's truth starts once Kafka's tools say it is set up")
    return closing


def soak(minutes: float, seed: int, interval_s: float = 5.0, workdir: Path | None = None, progress=print,
         stack: Stack | None = None) -> dict:
    """One soak; on `stack` when given (services lent by the caller, e.g. the test suite's), else on its own."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="lagwatch-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    prefix = f"soak{seed}-{uuid.uuid4().hex[:4]}"
    schedule = draw(seed, minutes)
    settle_s = 2 * interval_s + 2
    started = time.time()
    stack = stack or Stack(seed, progress)
    workload = replicas = metrics = None
    closing: list = []
    try:
        stack.start()
        progress(f"services ready after {time.time() - started:.0f}s")
        es = Elasticsearch(stack.es.url, request_timeout=30)
        truth = Truth()
        workload = Workload(",".join(stack.bootstrap), truth, prefix, seed, progress)
        deadline = time.time() + 600 + minutes * 60 + 300
        closing = set_up(workload, workdir, deadline, progress, stack.share_groups)
        replicas = Replicas(workdir, stack.bootstrap, stack.proxy.url, prefix, interval_s)
        for name in (PLAIN, FLEET_A, FLEET_B):
            replicas.start(name)
        progress(f"groups made after {time.time() - started:.0f}s")
        _wait(lambda: all(replicas.scraped_since(n, 0) for n in replicas.all), 180, "every process scraping")
        replicas.start_sampling()
        checks = DocChecks(es, truth, sorted({r.index_prefix for r in replicas.all.values()}), settle_s)
        metrics = MetricsWatch(replicas, truth, settle_s).start()
        kibana = KibanaWatch(es, checks.prefixes, RULE_TIME_LAG_S, interval_s)
        t0 = time.time()
        progress(f"soak {prefix}: {minutes:g} min, seed {seed}, {len(schedule)} faults; set-up took {t0 - started:.0f}s")
        faults = Faults(stack, replicas, workload, t0, seed, progress)
        faults.kibana_watch = kibana
        faults.run(schedule)
        interval_ms = int(interval_s * 1000)
        loads = [os.getloadavg()[0]]
        while time.time() < t0 + minutes * 60:
            time.sleep(10)
            loads.append(os.getloadavg()[0])
            now_slot = int(time.time() * 1000) // interval_ms * interval_ms
            try:
                checks.check_range(now_slot - 60 * interval_ms, now_slot - interval_ms)
            except Exception as exc:  # noqa: BLE001 - the node may be down: the last pass reads everything
                progress(f"check pass skipped: {type(exc).__name__}")
            bad = sum(checks.violations().values()) + sum(metrics.violations().values())
            progress(f"{time.time() - t0:7.1f}s  checked {len(checks.seen)} documents, {bad} violations so far")
        faults.wait(240)
        drained = drain(replicas, stack, 180)
        progress(f"drained: {drained}")
        metrics.stop()
        codes = replicas.close()
        checks.check_range(0, 1 << 62)
        kibana.finish()
        load = {"1min_at_start": round(loads[0], 2), "1min_mean": round(sum(loads) / len(loads), 2),
                "1min_max": round(max(loads), 2)}
        return report(locals())
    finally:  # each step on its own: a failing close must neither hide the figures nor leave a process behind
        for step in [*(thing.close for thing in closing), metrics and metrics.stop, replicas and replicas.close,
                     workload and workload.close, stack.stop]:
            if step:
                try:
                    step()
                except Exception as exc:  # noqa: BLE001
                    progress(f"while stopping: {type(exc).__name__}: {exc}")


def drain(replicas: Replicas, stack: Stack, timeout_s: float) -> dict:
    """After the last fault: every process that still runs has delivered its spool (or the time is up)."""
    from bench.soak.watch import parse
    import urllib.request

    stack.proxy.set("pass")
    left: dict[str, float] = {}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        left = {}
        for name, replica in replicas.all.items():
            port = replicas.port(name) if replica.alive else None
            if port is None:
                continue
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
                    series = parse(answer.read().decode())
            except OSError:
                left[name] = -1
                continue
            left[name] = sum(series.get("lagwatch_spool_documents", {}).values())
        if left and not any(left.values()):
            break
        time.sleep(2)
    return left
