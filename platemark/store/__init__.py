"""Stage 3: persistence of records and features behind one Catalog interface."""

from platemark.store.sqlite import Catalog, StoredRecord

__all__ = ["Catalog", "StoredRecord"]
