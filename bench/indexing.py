"""Elasticsearch: lagwatch's sink against a raw `_bulk` loop on the same documents."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from pathlib import Path

from bench.measure import log, spread


def measure_indexing(es_url: str, docs_path: Path, runs: int, chunk: int = 1000) -> dict:
    """Same documents, same batch size, same index template; fresh indices per run, order rotated per round.
    Contenders: lagwatch's `ElasticsearchSink.deliver` of the scrape's batches (encoded at the scrape, as the
    daemon's delivery worker gets them: encoding is timed with the scrape, bench/stages.py), and the raw `_bulk`
    loop from the documents with the standard library's json (the loop issue #7 defined) and with orjson."""
    from elasticsearch import Elasticsearch

    from exporter.output.batch import day_of, from_documents
    from exporter.sinks.elasticsearch import ElasticsearchSink

    docs = [json.loads(line) for line in docs_path.read_text().splitlines()]
    batches = from_documents(docs, chunk)
    client = Elasticsearch(es_url, request_timeout=120)
    host = es_url.split("://", 1)[-1].rstrip("/")
    who_all = ("lagwatch", "raw", "raw_orjson")
    rates: dict[str, list[float]] = {w: [] for w in who_all}
    cpus: dict[str, list[float]] = {w: [] for w in who_all}
    walls: dict[str, list[float]] = {w: [] for w in who_all}
    try:
        for index in range(runs):
            order = who_all[index % 3:] + who_all[: index % 3]
            for who in order:
                sink = ElasticsearchSink(client, prefix=f"bench{index}{who.replace('_', '')}",
                                         storage="daily_indices", chunk_size=chunk)
                sink.setup()
                # Index creation (about a second here) is not what is compared: all write into indices
                # that already exist, as the daemon does on every scrape but the first of the day.
                for name in sorted({sink.index_for(batch) for batch in batches}):
                    client.indices.create(index=name)
                client.cluster.health(wait_for_status="yellow", timeout="60s")
                cpu = time.process_time()
                started = time.perf_counter()
                if who == "lagwatch":
                    results = [sink.deliver(batch) for batch in batches]
                    indexed = sum(r.indexed + r.duplicates for r in results)
                else:
                    index_for = lambda doc, sink=sink: f"{sink.name}-{day_of(doc)}"  # noqa: E731
                    indexed = _raw_bulk(host, docs, index_for, chunk, orjson_dumps=who == "raw_orjson")
                seconds = time.perf_counter() - started
                cpus[who].append(time.process_time() - cpu)
                walls[who].append(seconds)
                rates[who].append(len(docs) / seconds)
                if indexed != len(docs):
                    raise RuntimeError(f"{who}: indexed {indexed} of {len(docs)} documents")
                log(f"indexing round {index + 1}/{runs} {who}: {len(docs):,} docs in {seconds:.2f}s "
                    f"= {len(docs) / seconds:,.0f} docs/s, client cpu {cpus[who][-1]:.2f}s")
                client.indices.delete(index=",".join(client.indices.get(index=f"{sink.name}-*")))
                client.indices.delete_index_template(name=sink.name)
    finally:
        client.close()
    share = [ours / raw for ours, raw in zip(rates["lagwatch"], rates["raw"])]
    share_orjson = [ours / raw for ours, raw in zip(rates["lagwatch"], rates["raw_orjson"])]
    return {"lagwatch_docs_s": spread(rates["lagwatch"]), "raw_docs_s": spread(rates["raw"]),
            "raw_orjson_docs_s": spread(rates["raw_orjson"]), "documents": len(docs), "chunk": chunk,
            "lagwatch_client_cpu_s": spread(cpus["lagwatch"]), "raw_client_cpu_s": spread(cpus["raw"]),
            "raw_orjson_client_cpu_s": spread(cpus["raw_orjson"]), "lagwatch_wall_s": spread(walls["lagwatch"]),
            "share_rounds": share, "share": spread(share), "share_orjson_rounds": share_orjson,
            "share_orjson": spread(share_orjson)}


def _raw_bulk(host: str, docs: list[dict], index_for: Callable[[dict], str], chunk: int,
              orjson_dumps: bool = False) -> int:
    """The floor: NDJSON built by hand and POSTed to /_bulk over one kept-alive connection."""
    if orjson_dumps:
        import orjson

        dumps, loads = orjson.dumps, orjson.loads
    else:
        dumps, loads = (lambda value: json.dumps(value).encode()), json.loads
    connection = http.client.HTTPConnection(host, timeout=120)
    indexed = 0
    try:
        for start in range(0, len(docs), chunk):
            lines = []
            for doc in docs[start : start + chunk]:
                source = {k: v for k, v in doc.items() if k != "_id"}
                lines.append(dumps({"index": {"_index": index_for(doc), "_id": doc["_id"]}}))
                lines.append(dumps(source))
            body = b"\n".join(lines) + b"\n"
            connection.request("POST", "/_bulk", body, {"Content-Type": "application/x-ndjson"})
            response = loads(connection.getresponse().read())
            indexed += sum(1 for item in response["items"] if item["index"].get("status", 500) < 300)
    finally:
        connection.close()
    return indexed
