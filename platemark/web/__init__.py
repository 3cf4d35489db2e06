"""The REST API and the web app: a thin face over platemark.search and platemark.store."""
