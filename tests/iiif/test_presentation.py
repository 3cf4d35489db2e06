import pytest

from platemark.errors import SourceError
from platemark.iiif.presentation import parse_collection, parse_manifest, short_id, text


def v3_manifest(canvases: int = 1, **extra) -> dict:
    base = "https://museum.example/iiif/prints/RP-P-1910-123"
    items = [
        {
            "id": f"{base}/canvas/{side}",
            "type": "Canvas",
            "width": 4000,
            "height": 3000,
            "items": [
                {
                    "type": "AnnotationPage",
                    "items": [
                        {
                            "type": "Annotation",
                            "motivation": "painting",
                            "body": {
                                "id": f"https://img.example/{side}.jpg",
                                "type": "Image",
                                "width": 2000,
                                "height": 1500,
                                "service": [
                                    {
                                        "id": f"https://img.example/iiif/{side}",
                                        "type": "ImageService3",
                                        "profile": "level1",
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
        for side in ["recto", "verso"][:canvases]
    ]
    return {
        "@context": "http://iiif.io/api/presentation/3/context.json",
        "id": f"{base}/manifest.json",
        "type": "Manifest",
        "items": items,
        **extra,
    }


def test_v3_metadata_maps_onto_platemark_columns() -> None:
    manifest = parse_manifest(
        v3_manifest(
            label={"nl": ["De Nachtwacht"], "en": ["The Night Watch"]},
            metadata=[
                {"label": {"en": ["Printmaker"]}, "value": {"none": ["Rembrandt van Rijn"]}},
                {"label": {"en": ["Object number"]}, "value": {"none": ["RP-P-1910-123"]}},
                {"label": {"en": ["Technique"]}, "value": {"en": ["etching"]}},
                {"label": {"en": ["Watermark"]}, "value": {"en": ["<i>Strasbourg lily</i>"]}},
            ],
            requiredStatement={"label": {"en": ["Attribution"]}, "value": {"en": ["Rijksmuseum, Amsterdam"]}},
            rights="http://creativecommons.org/publicdomain/zero/1.0/",
            homepage=[{"id": "https://museum.example/object/RP-P-1910-123", "type": "Text"}],
            provider=[{"id": "https://museum.example", "type": "Agent", "label": {"en": ["Rijksmuseum"]}}],
        )
    )
    assert manifest.metadata == {
        "title": "The Night Watch",
        "person": "Rembrandt van Rijn",
        "inventory_number": "RP-P-1910-123",
        "material_technique": "etching",
        "watermark": "Strasbourg lily",
        "credit_line": "Rijksmuseum, Amsterdam",
        "image_licence": "http://creativecommons.org/publicdomain/zero/1.0/",
        "record_url": "https://museum.example/object/RP-P-1910-123",
        "institution": "Rijksmuseum",
    }
    [image] = manifest.images
    assert image.record_id == "RP-P-1910-123"
    assert (image.service.id, image.service.level, image.service.width) == ("https://img.example/iiif/recto", 1, 2000)
    assert (image.canvas_width, image.canvas_height) == (4000, 3000)


def test_each_canvas_of_a_manifest_is_its_own_stable_record() -> None:
    manifest = parse_manifest(v3_manifest(canvases=2))
    assert [i.record_id for i in manifest.images] == ["RP-P-1910-123/recto", "RP-P-1910-123/verso"]
    assert [i.record_id for i in parse_manifest(v3_manifest(canvases=2)).images] == [
        i.record_id for i in manifest.images
    ]


def test_v2_values_in_several_languages_prefer_english_and_lose_their_html() -> None:
    value = [{"@value": "Radierung", "@language": "de"}, {"@value": "<b>etching</b>", "@language": "en"}]
    assert text(value) == "etching"
    assert text("<a href='x'>Dürer</a>, <br/>Albrecht") == "Dürer, Albrecht"
    assert text({"none": ["1514"]}) == "1514"


def test_manifest_without_images_is_refused() -> None:
    with pytest.raises(SourceError, match="no canvas with an image"):
        parse_manifest(
            {
                "@context": "http://iiif.io/api/presentation/3/context.json",
                "id": "https://x/m",
                "type": "Manifest",
                "items": [],
            }
        )


def test_collections_list_manifests_subcollections_and_pages_in_both_versions() -> None:
    v2 = parse_collection(
        {
            "@type": "sc:Collection",
            "label": "Prints",
            "manifests": [{"@id": "https://x/m1", "@type": "sc:Manifest"}],
            "collections": [{"@id": "https://x/c2", "@type": "sc:Collection"}],
            "next": "https://x/page/2",
        }
    )
    assert (v2.label, v2.manifests, v2.collections, v2.pages) == (
        "Prints",
        ["https://x/m1"],
        ["https://x/c2"],
        ["https://x/page/2"],
    )
    v3 = parse_collection(
        {
            "type": "Collection",
            "items": [{"id": "https://x/m3", "type": "Manifest"}, {"id": "https://x/c4", "type": "Collection"}],
        }
    )
    assert (v3.manifests, v3.collections) == (["https://x/m3"], ["https://x/c4"])


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("https://api.artic.edu/api/v1/artworks/27992/manifest.json", "27992"),
        ("https://gallica.bnf.fr/iiif/ark:/12148/btv1b84539771/manifest.json", "btv1b84539771"),
        ("https://iiif.bodleian.ox.ac.uk/iiif/manifest/e32a277e.json", "e32a277e"),
    ],
)
def test_record_id_is_the_meaningful_end_of_the_manifest_uri(uri, expected) -> None:
    assert short_id(uri) == expected
