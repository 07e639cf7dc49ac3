"""The Dash dashboard: layout (no I/O), figures (pure), callbacks (thin glue)."""
