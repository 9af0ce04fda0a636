"""The monitoring service: scheduled crawls in child processes, run history, source health,
alerts on layout changes, Prometheus metrics. Entry point: ``python -m scheduler``."""
