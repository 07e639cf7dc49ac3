"""HTTP routes beside the dashboard: health, metrics and the JSON API."""
