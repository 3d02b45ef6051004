"""`lagwatch top`: a live terminal view of lag per group, read straight from Kafka (docs/live-view.md)."""
