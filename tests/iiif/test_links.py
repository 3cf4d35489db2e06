from platemark.iiif.image_api import ImageService
from platemark.iiif.links import IIIFLink, decode_content_state


def test_match_region_becomes_full_resolution_region_url_and_canvas_target() -> None:
    link = IIIFLink(
        manifest="https://x/m.json",
        canvas="https://x/canvas/1",
        canvas_width=8000,
        canvas_height=6000,
        service=ImageService("https://x/iiif/a", 3, 2, 4000, 3000),
    )
    quad = [[100, 50], [500, 60], [490, 350], [90, 340]]  # on the 1600 x 1200 analysed image
    links = link.match(quad, (1600, 1200))
    assert links["region_url"] == "https://x/iiif/a/225,125,1025,750/max/0/default.jpg"
    assert links["target"] == "https://x/canvas/1#xywh=450,250,2050,1500"
    state = decode_content_state(links["content_state"])
    assert state["motivation"] == ["contentState"]
    assert state["target"] == {
        "id": links["target"],
        "type": "Canvas",
        "partOf": [{"id": "https://x/m.json", "type": "Manifest"}],
    }


def test_region_outside_the_image_is_clipped_and_level0_gets_no_region_url() -> None:
    link = IIIFLink(
        canvas="https://x/c", canvas_width=100, canvas_height=100, service=ImageService("https://x/a", 2, 0, 100, 100)
    )
    links = link.match([[-20, -20], [50, -20], [50, 50], [-20, 50]], (100, 100))
    assert links["region_url"] is None
    assert links["target"] == "https://x/c#xywh=0,0,50,50"


def test_link_survives_storage() -> None:
    link = IIIFLink("https://x/m", "https://x/c", 10, 20, ImageService("https://x/a", 3, 1, 30, 40))
    assert IIIFLink.from_json(link.to_json()) == link
