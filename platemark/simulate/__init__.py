"""Synthetic data for measuring retrieval: phone photos of prints, and hatched prints."""
