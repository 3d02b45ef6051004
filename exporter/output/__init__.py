"""What lagwatch writes: document field names (defined once), Elasticsearch documents, /metrics, and the
`lagwatch once` table and JSON. Pure renderings of a LagReport and its statuses."""
