"""What the Daemon wires in coordinated mode: ownership, the state store, the member; readiness and metrics."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from exporter.output import documents
from exporter.config import Config
from exporter.coordination import ownership as shares_of
from exporter.coordination.member import Member
from exporter.coordination.ownership import Ownership
from exporter.coordination.store import ShardStateStore
from exporter.coordination.topic import CoordinationSetupError, prepare
from exporter.kafka import connect as kafka_connect


class Coordinator:
    def __init__(self, config: Config, alertings: Callable[[], Mapping[str, object]]):
        settings = config.coordination
        assert settings is not None
        self.settings = settings
        self.connection = settings.connection(config.clusters)
        # A revoked shard is still scraped this long: under the cooperative protocol its next owner gets it
        # one rebalance later (about a heartbeat interval), and no slot in between may go unscraped.
        linger_s = max(settings.session_timeout_s, config.scrape.interval_s + settings.heartbeat_s + 1.0)
        self.ownership = Ownership(linger_s=linger_s)
        self.store = ShardStateStore(settings.topic, self.ownership, timeout_s=self.connection.request_timeout_s)
        self.member = Member(settings, self.connection, self.ownership, self.store, alertings)

    def start(self) -> Coordinator:
        self.member.start()
        return self

    def leave(self, timeout_s: float) -> bool:
        return self.member.leave(timeout_s)

    # --- what the scrape asks ----------------------------------------------------------------------

    def reports(self, cluster: str, group: str) -> bool:
        """Whether this process scrapes `group` now (its shard is owned, or lingering after a revoke)."""
        if group == self.settings.group_id and not self.settings.report_group:
            return False  # lagwatch's own group: not a consumer anybody needs to watch
        return self.ownership.reports(cluster, group)

    def self_fields(self) -> dict:
        """For each `self` document: the shards this process owns now (`lagwatch.self.shards`, `_total`)."""
        shares = self.ownership.shares()
        return documents.shard_fields(shares_of.owned(shares), shares.count, self.member.status.state)

    # --- health ----------------------------------------------------------------------------------

    def readiness(self) -> tuple[bool, dict]:
        status = self.member.status
        shares = self.ownership.shares()
        now = self.ownership.clock()
        alive = self.ownership.alive()
        ready = status.state == "member" and alive
        body = {
            "ready": ready,
            "state": status.state,
            "group": self.settings.group_id,
            "topic": self.settings.topic,
            "shards_total": shares.count,
            "owned": list(shares_of.owned(shares)),
            "evaluating": sorted(shares.evaluating),
            "lingering": list(shares_of.lingering(shares, now)),
            "generation": status.generation,
            "heartbeat_age_s": self.member.heartbeat_age_s(),
            "since_s": round(now - status.since, 1),
        }
        if not ready:
            body["reason"] = status.error or (
                f"coordination group: {status.state}" if alive else
                f"no heartbeat to the coordination group's coordinator for {self.member.heartbeat_age_s()} s: "
                "alerts held, shards still reported"
            )
        return ready, body

    def metrics(self) -> dict:
        shares = self.ownership.shares()
        status = self.member.status
        return {
            "owned": len(shares.assigned),
            "evaluating": len(shares.evaluating),
            "total": shares.count,
            "member": status.state == "member",
            "rebalances": status.rebalances,
            "rejoins": status.rejoins,
            "records_written": self.store.records_written,
        }


def preflight(config: Config) -> str | None:
    """At start-up: the problem with the coordination topic that only the operator can fix (missing and
    not to be created, not compacted), or None. An unreachable cluster is not such a problem: the member
    keeps retrying and /readyz says why."""
    settings = config.coordination
    if settings is None:
        return None
    connection = settings.connection(config.clusters)
    try:
        admin = kafka_connect.admin_client(connection)
    except Exception:  # noqa: BLE001 - unreachable now: the member retries
        return None
    try:
        prepare(admin, settings, connection)
    except CoordinationSetupError as exc:
        return str(exc)
    except Exception:  # noqa: BLE001 - a transient failure: the member retries
        return None
    finally:
        admin.close()
    return None
