"""Stage 2: image -> features. One module per method; both share the verbs `extract`."""
