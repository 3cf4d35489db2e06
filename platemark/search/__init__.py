"""Stage 4: query photo -> ranked, verified matches."""
