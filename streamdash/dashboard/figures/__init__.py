"""The dashboard's charts, one module per chart, each found by ``panels.PANELS``.

A chart's module holds everything about it: its component ids, its figure function, its
``snapshot`` and its ``PANEL`` (a :class:`~streamdash.dashboard.panel.Panel`: title, place,
width, inputs …). The figure functions are pure: plain values in, plain values out (Plotly
figure dicts, ``extendData`` payloads), so each is testable alone; the snapshot is the one
function that reads the :class:`~streamdash.dashboard.live.LiveView` it is given. ``common``
holds what every chart shares (base layout, axes, the empty-chart note, palette) and declares
no panel.

Why dicts and not ``plotly.graph_objects``: the figures are built on the per-tick path (once
per data version, shared by every viewer), and validating them through ``go.Figure`` costs
20–30 times the dict build. One tick's figures (series of 10,000 points in 5 traces,
histogram, 300 windows, 300 quality points; a 2-core machine under load 6–8) took 10–13 ms as
dicts and 234–283 ms as ``go.Figure(d).to_plotly_json()`` (best of 7); the first ``go.Figure``
in a process adds 100–170 ms of validator loading. The charts built once (the layout's empty
placeholders) are a one-line dict, which ``go`` would make neither shorter nor clearer (and
0.0007 ms vs 2.8 ms each), so ``graph_objects`` is not used anywhere.
"""
