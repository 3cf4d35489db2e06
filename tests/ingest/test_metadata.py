from __future__ import annotations

from pathlib import Path

import pytest

from platemark.errors import MetadataError
from platemark.ingest.metadata import parse_years, read_metadata_csv


@pytest.mark.parametrize(
    "date, years",
    [
        ("c. 1710", (1710, 1710)),
        ("1600–50", (1600, 1650)),
        ("Entstehung: 1915 - 1916", (1915, 1916)),
        ("1885–86", (1885, 1886)),
        ("about 1650-1660", (1650, 1660)),
        ("18th century", (1700, 1799)),
        ("um 1520 bis 1530", (1520, 1530)),
        ("n.d.", (None, None)),
        ("", (None, None)),
    ],
)
def test_parse_years_reads_free_text_dates(date: str, years: tuple) -> None:
    assert parse_years(date) == years


def test_metadata_accepts_emuseumplus_column_names(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(
        "recordID;invNr;matTec;institutionIsil;imageURL;Extra Note\nA1;Inv 1;Radierung;CH-000;http://x/a;hi\n"
    )
    join, rows = read_metadata_csv(path)
    assert join == "record_id"
    assert rows == [
        {
            "record_id": "A1",
            "inventory_number": "Inv 1",
            "material_technique": "Radierung",
            "institution": "CH-000",
            "image_url": "http://x/a",
            "extra_note": "hi",
        }
    ]


def test_metadata_in_windows_1252_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_bytes("record_id,title\nA1,Déjeuner à l'atelier\n".encode("cp1252"))
    assert read_metadata_csv(path)[1][0]["title"] == "Déjeuner à l'atelier"


def test_metadata_without_id_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("title,person\nA,B\n")
    with pytest.raises(MetadataError, match="no id column"):
        read_metadata_csv(path)


def test_binary_file_as_metadata_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_bytes(b"\x00\x01\x02record_id\x00")
    with pytest.raises(MetadataError, match="not a text CSV"):
        read_metadata_csv(path)
