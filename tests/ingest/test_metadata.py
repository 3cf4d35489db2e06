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
    table = read_metadata_csv(path)
    assert table.join == "record_id"
    assert table.rows == [
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
    assert read_metadata_csv(path).rows[0]["title"] == "Déjeuner à l'atelier"


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


def test_overlong_field_leaves_out_its_row_not_the_file(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(f"record_id,title\nA1,{'x' * 200_000}\nA2,Fine\n")
    table = read_metadata_csv(path)
    assert table.rows == [{"record_id": "A2", "title": "Fine"}]
    assert any("line 2" in p and "longer than" in p for p in table.problems)


def test_row_with_too_many_fields_is_left_out_and_named(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("record_id,title\nA1,One,extra,more\nA2,Two\n")
    table = read_metadata_csv(path)
    assert [r["record_id"] for r in table.rows] == ["A2"]
    assert any("line 2 has 4 fields" in p for p in table.problems)


@pytest.mark.parametrize("link", ["javascript:alert(1)", "data:text/html,<b>x</b>", "file:///etc/passwd", "//evil"])
def test_only_http_links_are_kept(tmp_path: Path, link: str) -> None:
    path = tmp_path / "m.csv"
    path.write_text(f'record_id,record_url,title\nA1,"{link}",T\nA2,https://museum.example/a2,U\n')
    table = read_metadata_csv(path)
    assert "record_url" not in table.rows[0] and table.rows[0]["title"] == "T"
    assert table.rows[1]["record_url"] == "https://museum.example/a2"
    assert any("not an http(s) link" in p for p in table.problems)


def test_fifo_as_metadata_is_refused_without_blocking(tmp_path: Path) -> None:
    import os

    path = tmp_path / "m.csv"
    os.mkfifo(path)
    with pytest.raises(MetadataError, match="not a regular file"):
        read_metadata_csv(path)
