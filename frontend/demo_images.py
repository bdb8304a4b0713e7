"""Tiny PNG pictures for the demo's correction examples, drawn without an imaging library."""

import struct
import zlib

Colour = tuple[int, int, int]


class Canvas:
    def __init__(self, width: int, height: int, background: Colour) -> None:
        self.width, self.height = width, height
        self.pixels = [list(background) * width for _ in range(height)]

    def fill(self, left: int, top: int, right: int, bottom: int, colour: Colour) -> None:
        for y in range(max(top, 0), min(bottom, self.height)):
            row = self.pixels[y]
            for x in range(max(left, 0), min(right, self.width)):
                row[3 * x : 3 * x + 3] = colour

    def outline(self, left: int, top: int, right: int, bottom: int, colour: Colour, width: int = 2) -> None:
        self.fill(left, top, right, top + width, colour)
        self.fill(left, bottom - width, right, bottom, colour)
        self.fill(left, top, left + width, bottom, colour)
        self.fill(right - width, top, right, bottom, colour)

    def png(self) -> bytes:
        raw = b"".join(b"\x00" + bytes(row) for row in self.pixels)

        def chunk(kind: bytes, body: bytes) -> bytes:
            return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
        return b"\x89PNG\r\n\x1a\n" + body


SKY, ROAD, POLE, SIGN, RIM = (186, 214, 235), (120, 124, 130), (90, 90, 96), (250, 250, 250), (200, 30, 30)
LABEL_WRONG, LABEL_RIGHT, LEAF = (255, 160, 0), (20, 200, 90), (46, 110, 52)


def street_sign(
    *, box: tuple[int, int, int, int], box_colour: Colour, occluded: bool = False, cut: bool = False
) -> bytes:
    """A speed sign on a pole by a road, with an annotator's box; optionally behind a branch or cut by the frame."""
    canvas = Canvas(240, 160, SKY)
    canvas.fill(0, 110, 240, 160, ROAD)
    offset = 60 if cut else 0  # a sign cut by the frame edge sits further right
    canvas.fill(118 + offset, 70, 124 + offset, 125, POLE)
    canvas.fill(96 + offset, 26, 146 + offset, 76, RIM)
    canvas.fill(102 + offset, 32, 140 + offset, 70, SIGN)
    canvas.fill(112 + offset, 40, 116 + offset, 62, (20, 20, 20))
    canvas.fill(122 + offset, 40, 130 + offset, 62, (20, 20, 20))
    if occluded:
        canvas.fill(60, 20, 124, 56, LEAF)
    canvas.outline(*box, box_colour)
    return canvas.png()
