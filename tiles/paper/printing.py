"""What printed sheets share: fonts, HTML → PDF (WeasyPrint), PDF → PNG (PDFium), QR codes.

Sheets are HTML and CSS laid out by WeasyPrint, which wraps text (CJK included) and
embeds subsets of the fonts fontconfig finds, with their Unicode maps, so the text of
a PDF stays searchable and extractable. Chinese needs Noto Sans CJK (Debian's
``fonts-noto-cjk``); without it characters would print as empty boxes, so rendering
refuses to start instead.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import logging
import shutil
import subprocess
import threading
from pathlib import Path

from gis.errors import CommgridError

__all__ = [
    "FONT_FAMILY",
    "PAPERS",
    "FontMissingError",
    "data_uri",
    "escape",
    "fit_text",
    "html_to_pdf",
    "pdf_pages",
    "pdf_to_png",
    "qr_svg",
]

FONT_FAMILY = "Noto Sans CJK SC"
PAPERS = {"A3": (297.0, 420.0), "A4": (210.0, 297.0)}  # portrait width, height in mm

escape = html.escape

# PDFium is not thread-safe: two threads inside it at once can crash the process (a general
# protection fault in libpdfium). Every call into it, closing documents, pages and bitmaps
# included, happens under this one lock.
_PDFIUM = threading.Lock()


class FontMissingError(CommgridError):
    """The CJK font printed sheets need is not installed."""

    http_status = 503


@functools.cache
def _font_installed() -> bool:
    fc_list = shutil.which("fc-list")
    if fc_list is None:  # fontconfig's library without its tools: look where Debian puts the font
        return any(Path("/usr/share/fonts").rglob("NotoSansCJK*"))
    found = subprocess.run([fc_list, f"{FONT_FAMILY}:style=Regular", "family"], capture_output=True, text=True)
    return FONT_FAMILY in found.stdout


def _require_font() -> None:
    if not _font_installed():
        raise FontMissingError(
            f"the font {FONT_FAMILY!r} is not installed, so Chinese text would print as empty boxes; install "
            "Debian's fonts-noto-cjk (`bash scripts/setup.sh` does)"
        )


def html_to_pdf(document: str) -> bytes:
    """Lay out an HTML document (with its CSS, images as data URIs) as PDF.

    Raises
    ------
    FontMissingError
        When Noto Sans CJK is not installed.
    """
    _require_font()
    import weasyprint

    # WeasyPrint logs every CSS property it ignores; sheets here use only supported ones
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    return weasyprint.HTML(string=document, base_url=None).write_pdf()


def pdf_pages(pdf: bytes) -> int:
    """The number of pages of a PDF."""
    import pypdfium2

    with _PDFIUM:
        document = pypdfium2.PdfDocument(pdf)
        try:
            return len(document)
        finally:
            document.close()


def pdf_to_png(pdf: bytes, *, dpi: float = 100, page: int = 0) -> bytes:
    """Render one page of a PDF as PNG at ``dpi`` dots per inch.

    One render at a time per process (PDFium is not thread-safe); the image is copied out
    of PDFium's bitmap before the lock is let go, so no PDFium object outlives it.
    """
    import pypdfium2

    with _PDFIUM:
        document = pypdfium2.PdfDocument(pdf)
        try:
            sheet = document[page]
            bitmap = sheet.render(scale=dpi / 72)
            try:
                image = bitmap.to_pil().copy()
            finally:
                bitmap.close()
                sheet.close()
        finally:
            document.close()
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def qr_svg(text: str) -> str:
    """A QR code of ``text`` as a ``data:`` URI of an SVG (medium error correction, no quiet zone)."""
    import qrcode
    import qrcode.image.svg

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0, image_factory=None)
    code.add_data(text)
    code.make(fit=True)
    svg = code.make_image(image_factory=qrcode.image.svg.SvgPathImage).to_string(encoding="unicode")
    return data_uri(svg.encode(), "image/svg+xml")


def data_uri(data: bytes, mime: str) -> str:
    """Bytes as a ``data:`` URI, so a sheet needs no files or network."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _ems(text: str) -> float:
    # Width in ems: CJK and full-width characters are one em, Latin about half.
    # (and 10 % more: line breaks never fill a line exactly)
    return 1.1 * sum(1.0 if ord(ch) > 0x2E7F else 0.56 for ch in text)


def fit_text(text: str, *, width_mm: float, height_mm: float, max_pt: float, min_pt: float, line: float = 1.3) -> float:
    """The largest font size (pt) from ``max_pt`` down to ``min_pt`` at which ``text`` fits the box.

    An estimate from character widths, erring large: the CSS still wraps, so a wrong guess
    costs a tighter line, never text over the box's edge.
    """
    size = max_pt
    while size > min_pt:
        em = size * 25.4 / 72  # pt → mm
        per_line = max(1.0, width_mm / em)
        lines = 0
        for paragraph in text.split("\n"):
            lines += max(1, -(-_ems(paragraph) // per_line))
        if lines * em * line <= height_mm:
            return size
        size -= 0.5
    return min_pt
