"""Where lag documents go: Elasticsearch (and, in front of it, the on-disk spool)."""
