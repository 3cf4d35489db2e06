"""Stage 5: one scorer for every method and catalog."""
