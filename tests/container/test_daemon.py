"""The image run as an operator runs it, against the harness's real broker and node (host network):
`lagwatch run` with a mounted config and a named volume for /var/lib/lagwatch, as uid 10001 on a read-only
root with no capabilities. Documents arrive, the HEALTHCHECK passes, SIGTERM stops it cleanly, and a
restart on the same volume keeps the spool and the alert state."""

from __future__ import annotations

import json
import re
import time

import pytest
import yaml
from elasticsearch import ApiError

from devstack.common import free_port
from tests import container_harness as ch
from tests.container.conftest import MEASURED
from tests.harness import unique, wait_for
from tests.webhook_recorder import Recorder

pytestmark = pytest.mark.integration

CONFIG_PATH = "/etc/lagwatch/lagwatch.yaml"


def write_config(tmp_path, *, cluster, bootstrap, es_url, group, prefix, webhook_url=None, name="lagwatch",
                 store="elasticsearch") -> str:
    """`store`: the config section of the node at es_url ("elasticsearch" or "opensearch")."""
    config = {
        "clusters": [{"name": cluster, "bootstrap_servers": bootstrap, "request_timeout_s": 3}],
        "groups": {"allow": [group]},
        "scrape": {"interval_s": 2},
        "time_lag": {"broker_probes": False},
        store: {"hosts": [es_url], "index_prefix": prefix, "request_timeout_s": 3},
        "log": {"format": "json"},
    }
    if webhook_url:
        config["alerts"] = {
            "rules": [{"name": "lag-high", "groups": [group], "metric": "lag", "warn": 5, "critical": 1000}],
            "notifiers": [{"name": "ops", "url": webhook_url, "backoff_s": 0.1}],
        }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o644)  # read by uid 10001 inside
    return str(path)


def run_args(config: str, volume: str, port: int) -> list[str]:
    """What docs/deploying.md's `docker run` line says, plus the hardening it documents."""
    return [
        "--network", "host",
        "--read-only", "--read-only-tmpfs=false",  # like docker's --read-only: no writable /tmp either
        "--cap-drop", "all", "--security-opt", "no-new-privileges",
        "-v", f"{config}:{CONFIG_PATH}:ro",
        "-v", f"{volume}:/var/lib/lagwatch",
        "-e", f"LAGWATCH_HTTP__PORT={port}",
    ]


@pytest.fixture
def make_container(podman, image):
    made, volumes = [], []

    def make(config: str, volume: str | None = None) -> tuple[ch.Container, int]:
        volume = volume or unique("lagwatch-test-state")
        if volume not in volumes:
            volumes.append(volume)
        port = free_port()
        container = ch.Container(podman, unique("lagwatch-test"), run_args(config, volume, port))
        made.append(container)
        return container, port

    make.volumes = volumes
    yield make
    for container in made:
        container.remove()
    for volume in volumes:
        podman.run("volume", "rm", "--force", volume, check=False)


@pytest.fixture
def es_cleanup(es):
    prefixes: list[str] = []
    yield prefixes.append
    for prefix in prefixes:
        for kind in ("lag", "alerts"):
            es.options(ignore_status=(404, 405)).indices.delete_data_stream(name=f"{prefix}-{kind}")
            for index in es.indices.get(index=f"{prefix}-{kind}-*", ignore_unavailable=True, allow_no_indices=True):
                es.indices.delete(index=index)
            es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-{kind}")


def group_docs(es, prefix: str, group: str) -> list[dict]:
    if not es.indices.exists(index=f"{prefix}-lag*"):
        return []
    try:
        es.indices.refresh(index=f"{prefix}-lag*")
        hits = es.search(
            index=f"{prefix}-lag*", size=1000, sort=[{"@timestamp": "asc"}],
            query={"bool": {"filter": [{"term": {"lagwatch.doc_type": "group"}},
                                       {"term": {"kafka.consumergroup.id": group}}]}},
        )["hits"]["hits"]
    except ApiError as exc:  # a daily index the replay has just created may not have its shard yet: poll again
        if exc.meta.status == 503:
            return []
        raise
    return [h["_source"] for h in hits]


def wait_ready(container: ch.Container, port: int, timeout: float = 60) -> tuple[float, float]:
    """Seconds from `podman run` to /healthz 200 and to /readyz 200, polled every 50 ms."""
    healthy = ready = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and ready is None:
        if healthy is None and ch.http_status(f"http://127.0.0.1:{port}/healthz", timeout=1) == 200:
            healthy = time.monotonic() - container.started
        if healthy is not None and ch.http_status(f"http://127.0.0.1:{port}/readyz", timeout=1) == 200:
            ready = time.monotonic() - container.started
        time.sleep(0.05)
    assert ready is not None, f"not ready after {timeout}s (healthz {healthy}); state {container.state()}\n{container.logs()[-3000:]}"
    return healthy, ready


@pytest.fixture
def lagging_group(kafka):
    """A topic with 10 records and a group that consumed 4 of them: lag 6."""
    topic = kafka.create_topic(unique("ctr"), partitions=1)
    group = unique("ctr-group")
    kafka.produce(topic, {0: 10})
    kafka.consume(group, topic, count=4)
    return topic, group


def test_run_in_the_container_indexes_the_right_lag_and_serves_its_endpoints(
    tmp_path, bootstrap, es_url, es, es_cleanup, lagging_group, make_container, podman
):
    topic, group = lagging_group
    prefix, cluster = unique("lwctr"), unique("ctr")
    es_cleanup(prefix)
    config = write_config(tmp_path, cluster=cluster, bootstrap=bootstrap, es_url=es_url, group=group, prefix=prefix)
    container, port = make_container(config)
    healthy, ready = wait_ready(container, port)
    MEASURED["start to /healthz 200"] = f"{healthy:.2f} s"
    MEASURED["start to /readyz 200"] = f"{ready:.2f} s (scrape interval 2 s)"

    docs = wait_for(lambda: group_docs(es, prefix, group), timeout=60, what="group documents from the container")
    assert docs[-1]["lagwatch.cluster"] == cluster and docs[-1]["lagwatch.lag.messages"] == 6

    readyz = json.loads(ch.http_text(f"http://127.0.0.1:{port}/readyz"))
    assert readyz["ready"] is True and readyz["clusters"][cluster]["ready"] is True
    metrics = ch.http_text(f"http://127.0.0.1:{port}/metrics")
    assert f'lagwatch_up{{cluster="{cluster}"}} 1.0' in metrics
    assert re.search(rf'lagwatch_group_lag{{cluster="{cluster}",group="{group}"}} 6\.0', metrics), metrics[:2000]

    # The image's own HEALTHCHECK command, run by the engine inside the container.
    check = podman.run("healthcheck", "run", container.name, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert container.state()["Health"]["Status"] == "healthy"


def test_the_daemon_runs_as_10001_with_no_capabilities_on_a_read_only_root(
    tmp_path, bootstrap, es_url, es_cleanup, lagging_group, make_container
):
    _, group = lagging_group
    prefix = unique("lwctr")
    es_cleanup(prefix)
    config = write_config(tmp_path, cluster="ctr-priv", bootstrap=bootstrap, es_url=es_url, group=group, prefix=prefix)
    container, port = make_container(config)
    wait_ready(container, port)

    status = container.exec("cat", "/proc/1/status").stdout
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    assert fields["Uid"].split() == ["10001"] * 4 and fields["Gid"].split() == ["10001"] * 4
    for capabilities in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(fields[capabilities], 16) == 0, (capabilities, fields[capabilities])
    assert fields["NoNewPrivs"].strip() == "1"
    assert "lagwatch" in container.exec("cat", "/proc/1/cmdline").stdout

    for path in ("/opt/lagwatch/x", "/tmp/x", "/etc/lagwatch/x"):
        denied = container.exec("touch", path, check=False)
        assert denied.returncode != 0 and "Read-only file system" in denied.stderr, (path, denied.stderr)
    # The state volume is the one writable place: the daemon's spool directory is there, owned by it.
    owner = container.exec("stat", "-c", "%u:%g %A", "/var/lib/lagwatch", "/var/lib/lagwatch/spool").stdout.split("\n")
    assert owner[0].startswith("10001:10001 d") and owner[1].startswith("10001:10001 d"), owner


def test_podman_stop_ends_the_daemon_with_exit_0_within_10_s(
    tmp_path, bootstrap, es_url, es_cleanup, lagging_group, make_container
):
    _, group = lagging_group
    prefix = unique("lwctr")
    es_cleanup(prefix)
    config = write_config(tmp_path, cluster="ctr-stop", bootstrap=bootstrap, es_url=es_url, group=group, prefix=prefix)
    container, port = make_container(config)
    wait_ready(container, port)
    wait_for(lambda: container.events("scrape_done"), what="a scrape before the stop")

    took = container.stop(timeout_s=10)
    state = container.state()
    MEASURED["podman stop (SIGTERM) to exit"] = f"{took:.2f} s"
    assert state["ExitCode"] == 0 and not state["OOMKilled"], state
    assert took < 10, f"took {took:.1f}s: podman's 10 s SIGKILL fallback, not the daemon, ended it"
    assert container.events("shutdown_requested") and container.events("daemon_stopped")


def test_a_restart_on_the_same_volume_keeps_the_spool_and_the_alert_state(
    tmp_path, bootstrap, es_url, es, es_cleanup, lagging_group, make_container
):
    """First run: Elasticsearch unreachable (a closed port), so every document waits in the spool on the
    volume, and the lag alert fires once. Second run, same volume, the real node: the first run's documents
    arrive (replayed from the spool) and the alert, still firing, is not notified again."""
    _, group = lagging_group
    prefix, cluster = unique("lwctr"), unique("ctr-restart")
    es_cleanup(prefix)
    webhook = Recorder()
    try:
        nowhere = f"http://127.0.0.1:{free_port()}"
        first_config = write_config(tmp_path, cluster=cluster, bootstrap=bootstrap, es_url=nowhere, group=group,
                                    prefix=prefix, webhook_url=webhook.url, name="es-down")
        first, port = make_container(first_config)
        volume = make_container.volumes[-1]
        wait_for(lambda: len(first.events("scrape_done")) >= 3, timeout=60, what="three scrapes with Elasticsearch down")
        wait_for(lambda: [b["transition"] for b in webhook.bodies()] == ["fired"], what="the alert fired")
        metrics = ch.http_text(f"http://127.0.0.1:{port}/metrics")
        spooled = float(re.search(r"^lagwatch_spool_documents (\S+)$", metrics, re.M).group(1))
        assert spooled > 0, metrics
        assert first.stop() < 10 and first.state()["ExitCode"] == 0
        stopped_ms = int(time.time() * 1000)
        assert not group_docs(es, prefix, group)

        second_config = write_config(tmp_path, cluster=cluster, bootstrap=bootstrap, es_url=es_url, group=group,
                                     prefix=prefix, webhook_url=webhook.url, name="es-up")
        second, _ = make_container(second_config, volume=volume)

        def replayed():
            docs = group_docs(es, prefix, group)
            before = [d for d in docs if _ms(d["@timestamp"]) < stopped_ms]
            after = [d for d in docs if _ms(d["@timestamp"]) >= stopped_ms]
            # Ids are per slot: the second run's first scrape may share the first run's last slot and overwrite
            # that document (same id), so at least two of the first run's three slots stay before the stop.
            return len(before) >= 2 and len(after) >= 2 and (before, after)

        before, after = wait_for(replayed, timeout=90, what="the first run's spooled documents and the second run's")
        assert {d["lagwatch.lag.messages"] for d in before + after} == {6}
        wait_for(lambda: len(second.events("scrape_done")) >= 3, what="three scrapes after the restart")
        assert [b["transition"] for b in webhook.bodies()] == ["fired"], webhook.bodies()
    finally:
        webhook.close()


def _ms(timestamp) -> int:
    if isinstance(timestamp, (int, float)):
        return int(timestamp)
    from datetime import datetime

    return int(datetime.fromisoformat(str(timestamp).replace("Z", "+00:00")).timestamp() * 1000)
