"""QR codes of ticket codes (and of PIX payment codes): one place that knows how they are drawn."""

from __future__ import annotations

import io

import segno

# Medium error correction survives a scratched phone screen or a creased print-out.
_ERROR = "m"

# A ticket code is 128 random bits, so the symbol looks like noise whichever of the eight data
# masks is applied. The standard's search for the mask with the lowest penalty (long runs of one
# colour, patterns that look like the finder marks) protects structured text, and is four fifths
# of the CPU of drawing a code; a ticket e-mail draws one per ticket. Other text (a PIX code)
# keeps the search.
RANDOM_TEXT_MASK = 0


def _qr(text: str, *, random_text: bool) -> segno.QRCode:
    mask = RANDOM_TEXT_MASK if random_text else None
    return segno.make(text, error=_ERROR, micro=False, mask=mask)


def svg(text: str, *, scale: int = 4, random_text: bool = False) -> str:
    """A standalone SVG document that encodes `text`. `random_text`: `text` is random (a ticket
    code), so no mask search is needed."""
    out = io.BytesIO()
    _qr(text, random_text=random_text).save(out, kind="svg", scale=scale, xmldecl=False, svgns=True)
    return out.getvalue().decode()


def png(text: str, *, scale: int = 6, random_text: bool = False) -> bytes:
    """The same code as a PNG, for e-mail clients that do not show SVG."""
    out = io.BytesIO()
    _qr(text, random_text=random_text).save(out, kind="png", scale=scale)
    return out.getvalue()
