"""In-memory and persistent stores."""
