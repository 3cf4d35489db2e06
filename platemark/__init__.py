"""platemark: find the catalogue record of a print from a phone photo.

The pipeline, one package per stage: ingest (folders -> records) -> extract (features) ->
store (catalog) -> search (shortlist, votes, verification) -> evaluate.

Example:
    >>> from platemark import Searcher, ingest, open_catalog
    >>> ingest("collections/prints", "./catalog")
    >>> Searcher(open_catalog("./catalog")).search("photo.jpg").results[0].record.record_id
"""

from platemark.errors import PlatemarkError
from platemark.evaluate.run import evaluate
from platemark.ingest.pipeline import ingest
from platemark.search.engine import Searcher, SearchResponse
from platemark.store import Catalog, open_catalog

__all__ = ["Catalog", "PlatemarkError", "SearchResponse", "Searcher", "evaluate", "ingest", "open_catalog"]
