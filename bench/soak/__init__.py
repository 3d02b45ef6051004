"""The seeded fault soak (issue #26): `python -m bench.soak --minutes 60 --seed N` (docs/reliability.md)."""
