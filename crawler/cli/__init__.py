"""The ``neu-news`` command line: a small dispatcher (``main``) and one module per command."""
