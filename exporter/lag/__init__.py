"""The lag model: frozen types (ClusterSnapshot -> LagReport), exact lag per partition and its aggregates,
and time lag (seconds behind) from offset history. Pure; imports nothing else of lagwatch."""
