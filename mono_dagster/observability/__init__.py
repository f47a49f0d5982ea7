"""Observability: the RFC's Prometheus metrics for the pipeline (the client's own are in `mono/metrics.py`)."""
