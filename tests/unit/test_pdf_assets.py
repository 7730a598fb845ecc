"""What the PDF record is made of besides text: the font it embeds, photo thumbnails, signatures (no database)."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from backend.inspections import pdf_assets
from backend.media import storage
from tests.api.media.files import camera_exif, photo, png


def test_the_default_font_is_wenquanyi_zen_hei_with_noto_sans_cjk_sc_for_what_it_lacks():
    fonts = pdf_assets.find_fonts()
    assert fonts.regular.path.endswith("wqy-zenhei.ttc") and fonts.regular.name == "WenQuanYi Zen Hei"
    assert fonts.regular.index == 0 and fonts.bold is None
    assert not fonts.regular.lacks("市场监管领域随机抽查检查记录表，㐀（扩展 A）：91310000MA1234567X ±")
    assert fonts.regular.lacks("𠀋𠁎") == {"𠀋", "𠁎"}                   # CJK Extension B: not in Zen Hei
    assert fonts.fallback is not None and "CJK SC" in fonts.fallback.name
    assert not fonts.fallback.lacks("𠀋𠁎")
    # a collection named explicitly: its Simplified Chinese face
    noto = pdf_assets.find_fonts(pdf_assets.NOTO_SANS)
    assert "CJK SC" in noto.regular.name and noto.fallback is None


@pytest.mark.parametrize("path", ["/nonexistent/font.ttc", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", __file__])
def test_a_font_that_is_missing_or_cannot_set_chinese_is_refused_clearly(path):
    with pytest.raises(pdf_assets.FontMissing) as caught:
        pdf_assets.find_fonts(path)
    assert caught.value.status == 503 and caught.value.code == "pdf.font_missing"
    assert "中文字体" in caught.value.message and caught.value.details == {"configured": path}


def test_a_photo_still_processing_is_shown_as_a_reduced_upright_copy_without_metadata(tmp_path):
    original = photo(1600, 1200, exif=camera_exif(orientation=6))      # stored sideways, with GPS in EXIF
    sha = storage.store_bytes(tmp_path, original)
    data = pdf_assets.photo_bytes(str(tmp_path), sha, {"kind": "photo", "status": "processing", "thumb_sha256": None})
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "JPEG" and im.size == (240, 320)            # turned upright, longest edge 320
        assert not im.getexif() and "icc_profile" not in im.info


def test_a_photo_whose_thumbnail_is_made_on_first_need_shows_the_thumbnail_it_will_have(tmp_path):
    """The app's photos have no thumbnail until a reader asks (media.upkeep.derived): the PDF makes the same
    bytes itself, so a record's PDF is the same before and after the thumbnail is stored."""
    from backend.media import processing

    original = photo(1600, 1200, exif=camera_exif(orientation=1))
    sha = storage.store_bytes(tmp_path, original)
    data = pdf_assets.photo_bytes(str(tmp_path), sha, {"kind": "photo", "status": "ready", "thumb_sha256": None})
    stored = processing.derive(storage.path_for(tmp_path, sha), thumb_edge=320, public_max_edge=2560,
                               default_zone="Asia/Shanghai").thumb
    assert data == stored
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (320, 240) and not im.getexif()
    bigger = pdf_assets.photo_bytes(str(tmp_path), sha, {"kind": "photo", "status": "ready", "thumb_sha256": None},
                                    thumb_edge=400)
    assert Image.open(io.BytesIO(bigger)).size == (400, 300)     # the server's MEDIA_THUMB_EDGE


def test_a_ready_photo_uses_its_thumbnail_and_a_missing_one_shows_nothing(tmp_path):
    thumb = photo(320, 240, seed=4)
    thumb_sha = storage.store_bytes(tmp_path, thumb)
    assert pdf_assets.photo_bytes(str(tmp_path), "a" * 64, {"kind": "photo", "thumb_sha256": thumb_sha}) == thumb
    assert pdf_assets.photo_bytes(str(tmp_path), "b" * 64, None) is None          # not uploaded
    assert pdf_assets.photo_bytes(str(tmp_path), "not a hash", {"kind": "photo"}) is None
    pdf_sha = storage.store_bytes(tmp_path, b"%PDF-1.4 ... %%EOF")
    assert pdf_assets.photo_bytes(str(tmp_path), pdf_sha, {"kind": "pdf", "thumb_sha256": None}) is None


@pytest.mark.parametrize("strokes", [
    [{"points": [[0, 0, 0], [40, 10, 16], [80, 0, 32]]}, {"points": [[100, 5, 60]]}],        # [x, y, t] (docs/sync.md)
    [{"points": [{"x": 3, "y": 4, "time": 1}, {"x": 9, "y": 30, "time": 2}]}],               # signature_pad's objects
])
def test_strokes_are_drawn_in_the_signature_box(strokes):
    data = pdf_assets.draw_strokes(strokes)
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG" and im.size == pdf_assets.SIGNATURE_BOX
        assert im.getextrema()[0] == 0                                    # ink


@pytest.mark.parametrize("strokes", [None, [], [{"points": []}], [{"points": [["a", None], [True, 2]]}], "x",
                                     [{"points": [[float("nan"), 1]]}]])
def test_strokes_without_a_usable_point_give_no_picture(strokes):
    assert pdf_assets.draw_strokes(strokes) is None


def test_an_uploaded_signature_is_flattened_on_white(tmp_path):
    sha = storage.store_bytes(tmp_path, png(1200, 300))
    with Image.open(io.BytesIO(pdf_assets.signature_image(str(tmp_path), sha))) as im:
        assert im.mode == "RGB" and im.size == (600, 150) and im.getpixel((0, 0)) == (255, 255, 255)
    assert pdf_assets.signature_image(str(tmp_path), "c" * 64) is None
