"""What each console page shows, gathered from the store and the serving layer (no HTML)."""
