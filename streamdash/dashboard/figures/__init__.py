"""Pure functions that turn runtime snapshots into Plotly figures, one module per chart.

Nothing here reads the runtime or Dash state: every function takes plain values and returns
plain values (Plotly figure dicts, ``extendData`` payloads), so each is testable alone.
``common`` holds what every chart shares (base layout, axes, the empty-chart note, palette).
"""
