"""The read-only web face of a data directory: a status page, Atom/RSS and JSON Lines feeds,
health for probes and Prometheus metrics (``neu-news serve``, or ``--http-port`` in the
scheduler). Flask routes and Jinja2 templates, served by waitress; nothing here writes.
"""
