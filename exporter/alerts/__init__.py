"""Alerting: lifecycle of alerts (pure), persisted state, notifiers, and the per-cluster engine."""
