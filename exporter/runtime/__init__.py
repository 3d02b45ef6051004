"""The running process: wiring (builds clients and passes them in), the daemon (signals, reload), the
scheduler, the per-cluster pipeline, and the HTTP endpoints."""
