from platemark.iiif.image_api import ImageService, service_from_image_url, service_from_manifest


def test_level2_service_is_asked_for_the_needed_size_in_each_version() -> None:
    landscape = ImageService("https://x.org/iiif/a", 2, 2, 6000, 4000)
    assert landscape.image_url(1600) == "https://x.org/iiif/a/full/1600,/0/default.jpg"
    portrait = ImageService("https://x.org/iiif/a", 3, 1, 3000, 5000)
    assert portrait.image_url(1600) == "https://x.org/iiif/a/full/,1600/0/default.jpg"


def test_small_image_is_fetched_whole_with_the_versions_word_for_full_size() -> None:
    assert ImageService("https://x/a", 2, 2, 800, 600).image_url(1600).endswith("/full/full/0/default.jpg")
    assert ImageService("https://x/a", 3, 2, 800, 600).image_url(1600).endswith("/full/max/0/default.jpg")


def test_level0_service_picks_the_smallest_listed_size_that_is_big_enough() -> None:
    info = {
        "@context": "http://iiif.io/api/image/3/context.json",
        "width": 8000,
        "height": 6000,
        "profile": "level0",
        "sizes": [{"width": 500, "height": 375}, {"width": 2000, "height": 1500}, {"width": 4000, "height": 3000}],
    }
    service = ImageService("https://x/a").with_info(info)
    assert (service.version, service.level) == (3, 0)
    assert service.image_url(1600) == "https://x/a/full/2000,1500/0/default.jpg"
    assert service.region_url((0, 0, 10, 10)) is None  # level 0 cuts no regions


def test_level0_tiles_cover_the_image_once_at_the_scale_keeping_the_side() -> None:
    info = {"width": 5000, "height": 3000, "profile": ["http://iiif.io/api/image/2/level0.json"]}
    info["tiles"] = [{"width": 512, "scaleFactors": [1, 2, 4, 8]}]
    service = ImageService("https://x/a").with_info(info)
    assert service.image_url(1600) is None
    tiles = service.tiles(1600)
    assert {t.factor for t in tiles} == {2}  # 5000/2 = 2500 >= 1600; /4 = 1250 would lose detail
    covered = sum(t.region_width * t.region_height for t in tiles)
    assert covered == 5000 * 3000
    last = max(tiles, key=lambda t: (t.y, t.x))
    assert (
        service.tile_url(last)
        == f"https://x/a/{last.x},{last.y},{last.region_width},{last.region_height}/{last.width},/0/default.jpg"
    )


def test_service_is_found_in_2x_and_3x_manifest_blocks() -> None:
    v2 = {
        "@context": "http://iiif.io/api/image/2/context.json",
        "@id": "https://x/b/",
        "profile": "http://iiif.io/api/image/2/level1.json",
    }
    assert service_from_manifest(v2) == ImageService("https://x/b", 2, 1)
    v3 = [
        {"id": "https://x/c", "type": "ImageService3", "profile": "level2"},
        {"id": "https://x/auth", "type": "AuthCookieService1"},
    ]
    assert service_from_manifest(v3) == ImageService("https://x/c", 3, 2)
    assert service_from_manifest({"@id": "javascript:alert(1)", "profile": "level2"}) is None


def test_image_api_request_urls_reveal_their_service() -> None:
    aic = "https://www.artic.edu/iiif/2/bda9058b-5be6-37d0-e5a6-926584540757/full/843,/0/default.jpg"
    assert service_from_image_url(aic).id == "https://www.artic.edu/iiif/2/bda9058b-5be6-37d0-e5a6-926584540757"
    assert service_from_image_url("https://x/iiif/a/info.json").id == "https://x/iiif/a"
    assert service_from_image_url("https://museum.example/images/123.jpg") is None
