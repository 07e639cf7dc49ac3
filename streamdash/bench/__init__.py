"""Benchmarks behind ``streamdash bench``: each module measures the product and registers its
subcommand; the product never imports this package.

``pipeline`` (records/s against the hand-written loop), ``alerts`` (data-quality monitoring cost),
``dashboard`` (viewers a process serves), ``history`` (persistence cost), ``history_chart`` (the
pipeline-history chart), ``hostile`` (hostile sources and clients), ``push`` (MQTT and Redis
Streams into the ring).
"""
