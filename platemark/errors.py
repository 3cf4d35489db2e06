"""Errors raised by platemark. Every failure a user can cause is a PlatemarkError subclass."""


class PlatemarkError(Exception):
    """Root of every error platemark raises on purpose."""


class UnreadableImage(PlatemarkError):
    """The file is not an image platemark can decode (corrupt, truncated, empty, too large)."""


class MetadataError(PlatemarkError):
    """A metadata CSV cannot be read or joined to the images."""


class CollectionNotFound(PlatemarkError):
    """The collection folder does not exist or holds no images."""


class CatalogNotFound(PlatemarkError):
    """The catalog directory does not exist or was never ingested into, or its server is unreachable."""


class CatalogNotEmpty(PlatemarkError):
    """A catalog was to be filled by import or export, but already holds records."""


class ExtractorMismatch(PlatemarkError):
    """The catalog was built with another feature extractor than the one asked for."""


class EvaluationInputError(PlatemarkError):
    """The ground truth or the retrieved results are not in the expected form."""


class RecordNotFound(PlatemarkError):
    """No record has this collection and id."""


class SearchNotFound(PlatemarkError):
    """No saved search has this id."""


class InvalidQuery(PlatemarkError):
    """The search request is malformed: a crop outside the photo or an unsupported rotation."""


class UploadTooLarge(PlatemarkError):
    """The uploaded photo is larger than the configured limit."""


class StoreNotMigrated(PlatemarkError):
    """The catalog's schema is older than this platemark: run `platemark migrate`."""


class Overloaded(PlatemarkError):
    """Too many searches are waiting: try again after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(Overloaded):
    """One client asked for more searches than the per-client rate allows."""


class StorageFull(PlatemarkError):
    """Saved searches have reached their disk quota."""


class FetchFailed(PlatemarkError):
    """A URL could not be fetched within the harvest's limits (HTTP error, timeout, size, type)."""


class SourceError(PlatemarkError):
    """A collection source cannot be read: unknown kind, or a malformed manifest or CSV."""


class CuratorOnly(PlatemarkError):
    """The curator view needs the curator password (and is off until one is set)."""
