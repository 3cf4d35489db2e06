"""platemark: find the catalogue record of a print from a phone photo.

The pipeline, one package per stage: ingest (folders, CSVs of image URLs, IIIF -> records)
-> extract (features) -> store (catalog) -> search (shortlist, votes, verification) -> evaluate.
`iiif` (Presentation and Image API, links out) and `images` (the one decoder) sit beneath them.

Example:
    >>> from platemark import Searcher, ingest, open_catalog
    >>> ingest("collections/prints", "./catalog")
    >>> Searcher(open_catalog("./catalog")).search("photo.jpg").results[0].record.record_id
"""

from platemark.errors import PlatemarkError
from platemark.evaluate.run import evaluate
from platemark.ingest.fetch import Politeness
from platemark.ingest.pipeline import ingest
from platemark.search.engine import Searcher, SearchResponse
from platemark.store import Catalog, open_catalog

__all__ = [
    "Catalog",
    "PlatemarkError",
    "Politeness",
    "SearchResponse",
    "Searcher",
    "evaluate",
    "ingest",
    "open_catalog",
]
