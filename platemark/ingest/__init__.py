"""Stage 1: collection folders -> normalised images and print records."""
