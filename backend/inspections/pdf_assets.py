"""What the PDF record is made of besides text: a Chinese font to embed, photo thumbnails, signatures.

* Fonts: ``PDF_FONT`` (and ``PDF_FONT_BOLD``) name font files; unset, the first CJK font found among
  the usual Debian paths is used: WenQuanYi Zen Hei (``fonts-wqy-zenhei``, installed by
  ``scripts/setup.sh``: TrueType outlines, embedded as a CIDFontType2 subset, GB 18030 coverage), then
  WenQuanYi Micro Hei, AR PL UMing, Noto Sans CJK. A collection (``.ttc``) is searched for its
  Simplified Chinese face. Characters the font lacks are taken from Noto Sans CJK SC when it is
  installed (fpdf2's fallback fonts). No font → :class:`FontMissing` (503, a Chinese message, never a 500).
* Photos: the processing job's thumbnail when it is ready; otherwise a reduced copy of the original,
  made here with Pillow (bounded in pixels, upright, no metadata).
* Signatures: the uploaded signature image when the server has it, else the stored strokes drawn
  with Pillow. Both come out as PNG on white.
"""
from __future__ import annotations

import dataclasses
import functools
import io
import math
import os
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

from backend.errors import DomainError
from backend.media import storage

THUMB_EDGE = 320                 # longest edge of a fallback thumbnail, in pixels
SIGNATURE_BOX = (600, 200)       # signatures are drawn into (or reduced to) this many pixels
CJK_PROBE = "检查记录表"          # a font without these glyphs cannot set the record

# Debian packages, in order of preference (regular face, bold face); docs/decisions.md says why
NOTO_SANS = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
FONT_CANDIDATES = (
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", None),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", None),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", None),
    (NOTO_SANS, "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
)
FALLBACK = NOTO_SANS    # for characters the chosen font lacks (rare names: CJK Extension B and beyond)


class FontMissing(DomainError):
    status = 503
    code = "pdf.font_missing"
    message = ("服务器未安装可用的中文字体，暂时无法生成 PDF 检查记录表。请系统管理员安装中文字体"
               "（Debian：apt-get install fonts-wqy-zenhei，或运行 scripts/setup.sh），或用 PDF_FONT 设置字体文件路径")


@dataclasses.dataclass(frozen=True)
class FontFace:
    path: str
    index: int          # the face within a collection (0 for a single font)
    name: str
    codepoints: frozenset = dataclasses.field(default=frozenset(), repr=False, compare=False)

    def lacks(self, text: str) -> set[str]:
        return {ch for ch in set(text) if ord(ch) >= 0x80 and ord(ch) not in self.codepoints and not ch.isspace()}


@dataclasses.dataclass(frozen=True)
class Fonts:
    regular: FontFace
    bold: FontFace | None
    fallback: FontFace | None = None


def _face(path: str) -> FontFace | None:
    """The Simplified Chinese face of the font (collection) at ``path``, if it can set Chinese."""
    from fontTools.ttLib import TTCollection, TTFont, TTLibError

    if not os.path.isfile(path):
        return None
    try:
        if path.lower().endswith((".ttc", ".otc")):
            faces = list(TTCollection(path, lazy=True).fonts)
        else:
            faces = [TTFont(path, lazy=True)]
    except (TTLibError, OSError, ValueError, AssertionError):
        return None
    scored = []
    for index, font in enumerate(faces):
        try:
            name = str(font["name"].getDebugName(1) or "")
            cmap = font.getBestCmap() or {}
        except Exception:  # noqa: BLE001 - a broken face is simply not used
            continue
        if not all(ord(ch) in cmap for ch in CJK_PROBE):
            continue
        score = (" SC" in name or name.endswith("SC")) * 4 + ("Mono" not in name) * 2 + ("Sharp" not in name)
        scored.append((-score, index, name, cmap))
    if not scored:
        return None
    _, index, name, cmap = min(scored, key=lambda s: s[:2])
    return FontFace(path, index, name, frozenset(cmap))


@functools.lru_cache(maxsize=8)
def _find(regular: str | None, bold: str | None) -> Fonts | None:
    if regular:
        face, bold_face = _face(regular), _face(bold) if bold else None
    else:
        face = bold_face = None
        for path, bold_path in FONT_CANDIDATES:
            face = _face(path)
            if face is not None:
                bold_face = _face(bold_path) if bold_path else None
                break
    if face is None:
        return None
    fallback = _face(FALLBACK) if face.path != FALLBACK else None
    return Fonts(face, bold_face, fallback)


def find_fonts(regular: str | None = None, bold: str | None = None) -> Fonts:
    """The fonts to embed (``PDF_FONT`` / ``PDF_FONT_BOLD`` when set). Raises :class:`FontMissing`."""
    fonts = _find(regular or None, bold or None)
    if fonts is None:
        _find.cache_clear()   # a font installed later is found without a restart
        detail = {"configured": regular} if regular else {"searched": [c[0] for c in FONT_CANDIDATES]}
        raise FontMissing(details=detail)
    return fonts


def forget_fonts() -> None:
    _find.cache_clear()


# --- photos ----------------------------------------------------------------------------------------------

def _jpeg(im: Image.Image, quality: int = 80) -> bytes:
    if im.mode not in ("RGB", "L"):
        background = Image.new("RGB", im.size, (255, 255, 255))
        if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
            rgba = im.convert("RGBA")
            background.paste(rgba, mask=rgba.getchannel("A"))
        else:
            background.paste(im.convert("RGB"))
        im = background
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality, optimize=False)   # no exif, no icc: nothing but pixels
    return out.getvalue()


def reduced_copy(path: Path, edge: int = THUMB_EDGE) -> bytes | None:
    """A small upright JPEG of the image at ``path`` (its longest edge at most ``edge``), or None."""
    try:
        with Image.open(path) as im:
            if im.format not in ("JPEG", "PNG", "WEBP"):
                return None
            if im.format == "JPEG":
                im.draft("RGB", (edge, edge))       # decode at a reduced scale: bounded memory
            im = ImageOps.exif_transpose(im)
            im.thumbnail((edge, edge), Image.Resampling.LANCZOS)
            return _jpeg(im)
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        return None


def photo_bytes(media_dir: str, sha256: str, info: dict | None, *, thumb_edge: int = THUMB_EDGE,
                public_max_edge: int = 2560) -> bytes | None:
    """The picture to show for a photo: its thumbnail when made; a photo whose thumbnail is made on first need
    (``media.common.on_first_need``: the app's plain copies) gets the thumbnail it will have, made here with the
    server's settings (``processing.derive``: the same bytes, so the PDF is the same before and after it is
    stored); any other (still processing) a reduced copy of the original."""
    from backend.media.common import on_first_need
    from backend.media.processing import derive

    store = storage.get(media_dir)
    try:
        if info and info.get("thumb_sha256"):
            try:
                return store.read_bytes(info["thumb_sha256"])
            except FileNotFoundError:
                pass
        if info is None or info.get("kind") not in (None, "photo"):
            return None
        with store.local_file(sha256) as original:
            if on_first_need(info.get("kind"), info.get("status"), info.get("thumb_sha256")):
                try:
                    return derive(original, thumb_edge=thumb_edge, public_max_edge=public_max_edge,
                                  default_zone="UTC").thumb    # the zone only dates EXIF facts, not used here
                except Exception:  # noqa: BLE001 - as the reader that stores it would: no thumbnail from it
                    pass
            return reduced_copy(original)
    except (ValueError, FileNotFoundError):          # not a hash; not stored
        return None


# --- signatures ------------------------------------------------------------------------------------------

def _points(stroke) -> list[tuple[float, float]]:
    raw = stroke.get("points") if isinstance(stroke, dict) else stroke
    out = []
    for p in raw if isinstance(raw, list) else []:
        if isinstance(p, dict):
            x, y = p.get("x"), p.get("y")
        elif isinstance(p, (list, tuple)) and len(p) >= 2:
            x, y = p[0], p[1]
        else:
            continue
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (x, y)):
            out.append((float(x), float(y)))
    return out


def draw_strokes(strokes) -> bytes | None:
    """The signature pad's strokes (``[{points: [[x, y, t], …]}, …]`` or ``{x, y}`` points) drawn as a PNG."""
    lines = [pts for pts in (_points(s) for s in (strokes if isinstance(strokes, list) else [])) if pts]
    if not lines:
        return None
    xs = [x for pts in lines for x, _ in pts]
    ys = [y for pts in lines for _, y in pts]
    width, height = SIGNATURE_BOX
    pad = 16
    span_x, span_y = max(xs) - min(xs), max(ys) - min(ys)
    scale = min((width - 2 * pad) / span_x if span_x else math.inf, (height - 2 * pad) / span_y if span_y else math.inf)
    if not math.isfinite(scale):
        scale = 1.0
    # centre the drawing in the box
    off_x = (width - span_x * scale) / 2 - min(xs) * scale
    off_y = (height - span_y * scale) / 2 - min(ys) * scale
    im = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(im)
    pen = 5
    for pts in lines:
        mapped = [(x * scale + off_x, y * scale + off_y) for x, y in pts]
        if len(mapped) == 1:
            x, y = mapped[0]
            draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=0)
        else:
            draw.line(mapped, fill=0, width=pen, joint="curve")
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


def signature_image(media_dir: str, image_sha256: str | None) -> bytes | None:
    """The uploaded signature PNG, flattened on white and reduced to the signature box, or None."""
    if not image_sha256:
        return None
    try:
        data = storage.get(media_dir).read_bytes(image_sha256)
    except (ValueError, FileNotFoundError):
        return None
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.thumbnail(SIGNATURE_BOX, Image.Resampling.LANCZOS)
            flat = Image.new("RGB", im.size, (255, 255, 255))
            rgba = im.convert("RGBA")
            flat.paste(rgba, mask=rgba.getchannel("A"))
            out = io.BytesIO()
            flat.save(out, "PNG")
            return out.getvalue()
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        return None
