"""Reading QR codes back in tests, with a real decoder (zxing-cpp), from a PNG or from the SVG that
apps/payments/qr.py draws.

No SVG renderer is needed: segno draws a QR code as one `<path>` of horizontal strokes,

    <path transform="scale(4)" stroke="#000" d="M4 4.5h7m2 0h5m1 0h2m-25 1h1...">

where each `h` segment paints a run of dark modules one module high (the stroke runs along
y + 0.5). `svg_modules` replays the path into a module matrix; `image_of` draws a matrix as a
picture with a quiet zone, and the decoder reads that picture as a phone camera would.
"""

from __future__ import annotations

import io
import re
from xml.etree import ElementTree

import zxingcpp
from PIL import Image

Modules = list[list[bool]]

SVG_NS = "{http://www.w3.org/2000/svg}"
_TOKEN = re.compile(r"[MmHh]|-?\d+(?:\.\d+)?")
_SCALE = re.compile(r"^\s*scale\(\s*(\d+(?:\.\d+)?)\s*\)\s*$")


def decode(image: Image.Image) -> str:
    """The text of the one QR code in the picture (fails if there is none, or more than one)."""
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1, f"expected one QR code, found {len(found)}"
    assert found[0].valid, found[0]
    return found[0].text


def decode_png(data: bytes) -> str:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG", image.format
        return decode(image.convert("L"))


def _dark_cells(d: str) -> set[tuple[int, int]]:
    """The (x, y) cells painted by a path of M/m moves and h/H horizontal strokes."""
    tokens = _TOKEN.findall(d)
    assert "".join(tokens) == re.sub(r"[\s,]", "", d), f"unexpected path commands in {d[:80]!r}"
    cells: set[tuple[int, int]] = set()
    x = y = 0.0
    i = 0
    while i < len(tokens):
        command = tokens[i]
        if command in "Mm":
            dx, dy = float(tokens[i + 1]), float(tokens[i + 2])
            x, y = (dx, dy) if command == "M" else (x + dx, y + dy)
            i += 3
        elif command in "Hh":
            end = float(tokens[i + 1]) + (0 if command == "H" else x)
            row = int(y)  # the stroke runs along the middle of the module row: y = row + 0.5
            assert y - row == 0.5, f"stroke off the module grid at y={y}"
            for column in range(int(min(x, end)), int(max(x, end))):
                cells.add((column, row))
            x = end
            i += 2
        else:
            raise AssertionError(f"a number where a command belongs: {command!r}")
    return cells


def svg_modules(svg: str) -> Modules:
    """The QR symbol the SVG draws, one bool per module (True: dark), without the quiet zone."""
    root = ElementTree.fromstring(svg)  # noqa: S314 - our own server's output, in a test
    assert root.tag == f"{SVG_NS}svg", root.tag
    paths = root.findall(f"{SVG_NS}path")
    assert len(paths) == 1, f"expected one <path>, found {len(paths)}"
    path = paths[0]
    scale = _SCALE.match(path.get("transform", "scale(1)"))
    assert scale, path.get("transform")
    assert float(path.get("stroke-width", "1")) == 1
    cells = _dark_cells(path.get("d", ""))
    assert cells, "the path paints nothing"
    # The symbol spans from the top-left finder pattern to the top-right and bottom-left ones:
    # exactly the bounding box of the dark modules.
    left, top = min(c for c, _ in cells), min(r for _, r in cells)
    right, bottom = max(c for c, _ in cells), max(r for _, r in cells)
    size = right - left + 1
    assert bottom - top + 1 == size, "a QR symbol is square"
    # The whole drawing (path units times the scale) leaves a quiet zone around the symbol.
    width = float(root.get("width", "0"))
    assert width >= (right + 1) * float(scale.group(1)), "the drawing cuts the symbol off"
    return [[(left + c, top + r) in cells for c in range(size)] for r in range(size)]


def image_of(modules: Modules, *, pixels: int = 8, quiet_zone: int = 4) -> Image.Image:
    """A black-on-white picture of the modules, `pixels` per module, with a quiet zone."""
    side = len(modules) + 2 * quiet_zone
    image = Image.new("L", (side, side), 255)
    for r, row in enumerate(modules):
        for c, dark in enumerate(row):
            if dark:
                image.putpixel((quiet_zone + c, quiet_zone + r), 0)
    return image.resize((side * pixels, side * pixels), Image.Resampling.NEAREST)


def decode_svg(svg: str) -> str:
    return decode(image_of(svg_modules(svg)))
