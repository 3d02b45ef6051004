"""`lagwatch check-access -c FILE`: for each cluster, what lagwatch's principal may do on the groups and topics
it is configured to watch, and on Elasticsearch what its user may do on lagwatch's indices; what is granted,
what is missing (with the grant that fixes it) and what is granted beyond what lagwatch uses. Exit 1 when
something lagwatch needs is missing (docs/access.md has a real run's output)."""

from __future__ import annotations

from exporter.cli.parser import EXIT_FAILURE, EXIT_OK

_MARK = {True: "ok     ", False: "MISSING"}


def run(config, out) -> int:
    from exporter.kafka import check
    from exporter.runtime import oneshot

    missing = 0
    for cluster, result in zip(config.clusters, oneshot.check_access(config)):
        missing += result.missing
        for line in _cluster_lines(cluster, result, check.no_authorizer_note(result)):
            print(line, file=out)
    lines, lacking = _elasticsearch_lines(config)
    missing += lacking
    for line in lines:
        print(line, file=out)
    print(f"result: {'nothing missing' if not missing else f'{missing} missing'}", file=out)
    return EXIT_FAILURE if missing else EXIT_OK


def _cluster_lines(cluster, result, note: str | None) -> list[str]:
    lines = [f"kafka {cluster.name} ({', '.join(cluster.bootstrap_servers)}) as {result.principal}"]
    if result.error:
        return [*lines, f"  {_MARK[False]} the cluster could not be read: {result.error}"]
    if note:
        lines.append(f"  {note}")
    if not result.resources:
        lines.append("  no group selected: nothing to check (groups.allow / groups.deny)")
    for resource in result.resources:
        label = f"{resource.kind.capitalize()} {resource.name}"
        if resource.granted:
            lines.append(f"  {_MARK[True]} {', '.join(resource.granted):<26} {label}")
        for operation, grant in zip(resource.missing, resource.grants):
            lines.append(f"  {_MARK[False]} {operation:<26} {label}: {grant}")
        for operation in resource.unknown:
            lines.append(f"  {'unknown'} {operation:<26} {label}: the broker did not say")
        if resource.more:
            lines.append(f"  {'more   '} {', '.join(resource.more):<26} {label}: allowed, not used by lagwatch")
    return lines


def _elasticsearch_lines(config) -> tuple[list[str], int]:
    from exporter.runtime import oneshot
    from exporter.sinks.interface import SinkRefused, SinkUnavailable

    section = "opensearch" if config.opensearch is not None else "elasticsearch"
    head = f"{section} ({', '.join(map(str, config.store.hosts))})"
    try:
        names, found = oneshot.elasticsearch_access(config)
    except (SinkUnavailable, SinkRefused) as exc:
        return [head, f"  {_MARK[False]} could not ask: {type(exc).__name__}: {exc}"], 1
    if found is None:
        return [head, "  not asked: no security on this node (every request is allowed), or OpenSearch, which has "
                      "no _has_privileges (docs/opensearch.md has its role)"], 0
    lines = [f"{head} as user {found.user}"]
    for privilege, ok in found.granted.items():
        scope, name = privilege.split(":", 1)
        where = f"on {', '.join(names)}" if scope == "indices" else "(cluster)"
        lines.append(f"  {_MARK[ok]} {name:<26} {where}")
    return lines, sum(1 for ok in found.granted.values() if not ok)
