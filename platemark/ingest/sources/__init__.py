"""Where collections come from: one module per kind of source, each listing PrintRecords.

The built-in kinds (a folder, a CSV of image URLs, IIIF manifests and collections) register
through the `register_sources` plugin hook exactly as an installed plugin would (see
`platemark.hookspecs`).
"""
