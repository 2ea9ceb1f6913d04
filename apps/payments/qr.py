"""QR codes of ticket codes (and of PIX payment codes): one place that knows how they are drawn."""

from __future__ import annotations

import io

import segno

# Medium error correction survives a scratched phone screen or a creased print-out.
_ERROR = "m"


def _qr(text: str) -> segno.QRCode:
    return segno.make(text, error=_ERROR, micro=False)


def svg(text: str, *, scale: int = 4) -> str:
    """A standalone SVG document that encodes `text`."""
    out = io.BytesIO()
    _qr(text).save(out, kind="svg", scale=scale, xmldecl=False, svgns=True)
    return out.getvalue().decode()


def png(text: str, *, scale: int = 6) -> bytes:
    """The same code as a PNG, for e-mail clients that do not show SVG."""
    out = io.BytesIO()
    _qr(text).save(out, kind="png", scale=scale)
    return out.getvalue()
