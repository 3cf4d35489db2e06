"""Saved searches: a search's photo and results, kept for a while and within a disk quota.

A visitor's photo is personal data (it may show people), so it is kept only as long as the
retention says: briefly by default, longer once its share link was copied. Expired searches
are deleted by `clean`, which every web worker runs on a timer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from platemark.errors import InvalidQuery, SearchNotFound, StorageFull
from platemark.images import encode_jpeg, write_atomically
from platemark.store import Catalog
from platemark.store.base import Feedback, SavedSearch

HOUR = 3600.0
DAY = 24 * HOUR


@dataclass(frozen=True)
class Retention:
    """How long saved searches are kept, and how much disk their photos may take."""

    photo_hours: float = 24.0
    shared_days: float = 30.0
    feedback_days: float = 90.0
    max_bytes: int = 2_000_000_000


#: What a visitor may say about a result: it is the print, it is not, or (about all) none of them is.
Answer = Literal["this", "not_this", "none"]
ANSWERS: tuple[str, ...] = get_args(Answer)


class SavedSearches:
    """The saved searches of one catalog, under a retention policy.

    Example:
        >>> saved = SavedSearches(open_catalog("./catalog"), Retention(photo_hours=2))
        >>> saved.clean()
    """

    def __init__(self, catalog: Catalog, retention: Retention) -> None:
        self.catalog = catalog
        self.retention = retention

    def check_space(self) -> None:
        """Raise StorageFull when the saved photos have used up their quota."""
        used = self.catalog.saved_search_bytes()
        if used >= self.retention.max_bytes:
            raise StorageFull(
                f"saved searches use {used / 1e6:.0f} MB of their {self.retention.max_bytes / 1e6:.0f} MB quota; "
                "try again later"
            )

    def new_expiry(self) -> float:
        """When a search saved now expires (Unix time)."""
        return round(time.time() + self.retention.photo_hours * HOUR, 3)

    def save(
        self, search_id: str, photo: np.ndarray, request: dict[str, Any], response: dict[str, Any], *, expires_at: float
    ) -> None:
        """Keep the photo (as searched) and the results until `expires_at` (see `new_expiry`)."""
        jpeg = encode_jpeg(photo, quality=88)
        write_atomically(self.photo_path(search_id), jpeg)
        self.catalog.save_search(search_id, request, response, expires_at=expires_at, photo_bytes=len(jpeg))

    def get(self, search_id: str) -> SavedSearch:
        """An unexpired saved search. Raises SearchNotFound."""
        return self.catalog.get_search(search_id)

    def share(self, search_id: str) -> float:
        """Keep a search as long as shared ones are kept; returns when it now expires. Raises SearchNotFound."""
        return self.catalog.keep_search(search_id, time.time() + self.retention.shared_days * DAY)

    def answer(self, search_id: str, answer: str, record: tuple[str, str] | None = None) -> float:
        """Keep a visitor's answer about a result (`record`: collection, record id) or, for "none",
        about all of them. The search is then kept `feedback_days`, as ground truth; returns when it expires.

        Raises:
            SearchNotFound: no unexpired search has this id.
            InvalidQuery: an unknown answer, a record the search did not return, or "none" with a record.
        """
        found = self.get(search_id)
        if answer not in ANSWERS:
            raise InvalidQuery(f"answer must be one of {', '.join(ANSWERS)}, not {answer!r}")
        if (answer == "none") != (record is None):
            raise InvalidQuery('"none" is about all results and names no record; the other answers name one')
        shown = {(hit["record"]["collection"], hit["record"]["record_id"]) for hit in found.response.get("data", [])}
        if record is not None and record not in shown:
            raise InvalidQuery(f"record {record[1]!r} of {record[0]!r} is not among this search's results")
        collection, record_id = record or ("", "")
        self.catalog.save_feedback(search_id, collection, record_id, answer, time.time())
        return self.catalog.keep_search(search_id, time.time() + self.retention.feedback_days * DAY)

    def recent(self, offset: int = 0, limit: int = 50) -> tuple[list[tuple[float, SavedSearch, list[Feedback]]], int]:
        """Unexpired searches, newest first, each with when it was made and its answers; and how many there are."""
        page, total = self.catalog.recent_searches(offset, limit)
        answers = self.catalog.feedback(saved.search_id for _, saved in page)
        return [(made, saved, answers.get(saved.search_id, [])) for made, saved in page], total

    def photo(self, search_id: str) -> Path:
        """The photo file of an unexpired saved search. Raises SearchNotFound."""
        self.get(search_id)
        path = self.photo_path(search_id)
        if not path.is_file():
            raise SearchNotFound(f"the photo of search {search_id!r} is gone")
        return path

    def photo_path(self, search_id: str) -> Path:
        return self.catalog.searches_dir / f"{search_id}.jpg"

    def clean(self, now: float | None = None) -> int:
        """Delete expired searches and their photos, and photos no search refers to; returns files deleted.

        Safe to run from several processes at once: each expired search is deleted by one of them.
        """
        now = time.time() if now is None else now
        deleted = 0
        for search_id in self.catalog.delete_expired_searches(now):
            path = self.photo_path(search_id)
            deleted += path.exists()
            path.unlink(missing_ok=True)
        # Photos written by a search that crashed before its row was saved; older than any retention.
        kept = self.retention
        longest = max(kept.shared_days * DAY, kept.feedback_days * DAY, kept.photo_hours * HOUR)
        oldest_allowed = now - longest - HOUR
        folder = self.catalog.searches_dir
        for path in folder.glob("*.jpg") if folder.is_dir() else ():
            try:
                stale = path.stat().st_mtime < oldest_allowed
            except FileNotFoundError:
                continue
            if stale and not self._exists(path.stem):
                path.unlink(missing_ok=True)
                deleted += 1
        return deleted

    def _exists(self, search_id: str) -> bool:
        try:
            self.get(search_id)
        except SearchNotFound:
            return False
        return True
