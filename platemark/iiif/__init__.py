"""IIIF: reading Presentation manifests and Image API services, and links back into them."""
