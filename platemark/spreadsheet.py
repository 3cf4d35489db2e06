"""CSV cells that spreadsheets open as text: what every CSV platemark writes goes through."""

from __future__ import annotations


def spreadsheet_safe(value: object) -> object:
    """The value as a spreadsheet cell that is never a formula.

    Excel and LibreOffice run cells starting with = + - @ (or tab, CR) as formulas, so such text
    gets a leading apostrophe (OWASP's advice against CSV injection).
    """
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
