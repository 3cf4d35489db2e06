"""What a search tells a visitor: one answer, other prints also in the photo, related records.

Geometric verification says that a record's picture is in the photo. Two verified records are
either two prints side by side on a wall, each covering its own part of the photo, or one print
and a companion of its series (or a copy) matched on the same part: only the first is a second
answer. Museum bench, query qsd2_w3/00024: the right painting with 182 inliers, a companion of the
same series with 22 on 93 % of the same outline.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

import cv2
import numpy as np

from platemark.search.verify import Verification

#: A verified record whose outline in the photo lies this much (of the smaller outline) within the
#: outline of a better one is related to it, not a second print in the photo. On the museum bench
#: two prints on one wall overlap 0 %, companions of one series 93 %.
SAME_PART_OVERLAP = 0.5


class Verdict(StrEnum):
    """What a result is, for the person who took the photo."""

    ANSWER = "answer"  # the best verified record: this is the print in the photo
    ALSO_IN_PHOTO = "also_in_photo"  # another verified record, on another part of the photo
    RELATED = "related"  # verified on a part a better record covers: a companion, a copy, a state
    CANDIDATE = "candidate"  # not verified: looks similar, nothing more

    @property
    def claims_match(self) -> bool:
        """The page presents the record as being in the photo."""
        return self in (Verdict.ANSWER, Verdict.ALSO_IN_PHOTO)


#: The order results are shown in, whatever their scores.
ORDER = tuple(Verdict)


def verdicts(verifications: Sequence[Verification]) -> list[Verdict]:
    """The verdict of each result, given their verifications best first (verified before not)."""
    claimed: list[list[list[float]]] = []
    found = []
    for verification in verifications:
        outline = verification.query_region
        if not verification.verified or outline is None:
            found.append(Verdict.CANDIDATE)
        elif any(overlap(outline, other) > SAME_PART_OVERLAP for other in claimed):
            found.append(Verdict.RELATED)
        else:
            found.append(Verdict.ALSO_IN_PHOTO if claimed else Verdict.ANSWER)
            claimed.append(outline)
    return found


def overlap(a: list[list[float]], b: list[list[float]]) -> float:
    """Area two convex outlines share, as a fraction of the smaller one's area (0-1)."""
    quad_a, quad_b = np.float32(a), np.float32(b)
    smaller = min(abs(cv2.contourArea(quad_a)), abs(cv2.contourArea(quad_b)))
    if smaller <= 0:
        return 1.0
    shared, _ = cv2.intersectConvexConvex(quad_a, quad_b)
    return float(shared) / smaller
