"""Recognise an uploaded correction image by its bytes, never by its name or the browser's content type.

Only PNG, JPEG, WebP and GIF are accepted. Besides the magic bytes, the file's structure is walked far
enough to know it is complete and has sane dimensions (PNG chunks with their CRCs up to IEND, JPEG segments
up to a frame header and the end-of-image marker, GIF blocks up to the trailer, the RIFF container of WebP).
This is done here rather than with Pillow to keep an image decoder out of the web process; browsers do the
actual decoding when the image is shown.
"""

import struct
import zlib
from dataclasses import dataclass

from django.core.exceptions import ValidationError

MAX_SIDE = 16384
MAX_PIXELS = 64_000_000
ACCEPTED = "PNG, JPEG, WebP or GIF"


@dataclass(frozen=True)
class ImageInfo:
    content_type: str
    extension: str
    width: int
    height: int


def _invalid(message: str, code: str = "invalid_image") -> ValidationError:
    return ValidationError(message, code=code)


def _truncated(kind: str) -> ValidationError:
    return _invalid(f"This {kind} file is truncated or damaged; upload the complete image.", "damaged_image")


def inspect_image(data: bytes) -> ImageInfo:
    """What image ``data`` is; raises ``ValidationError`` with a reason a person can act on."""
    if not data:
        raise _invalid("The file is empty.", "empty_file")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        info = _png(data)
    elif data.startswith(b"\xff\xd8\xff"):
        info = _jpeg(data)
    elif data[:6] in (b"GIF87a", b"GIF89a"):
        info = _gif(data)
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        info = _webp(data)
    else:
        raise _invalid(_unrecognised(data), "unsupported_image_type")
    if not (0 < info.width <= MAX_SIDE and 0 < info.height <= MAX_SIDE) or info.width * info.height > MAX_PIXELS:
        raise _invalid(
            f"The image is {info.width} by {info.height} pixels; at most {MAX_SIDE} pixels a side and "
            f"{MAX_PIXELS // 1_000_000} megapixels are accepted.",
            "image_too_large",
        )
    return info


def _unrecognised(data: bytes) -> str:
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<") and (b"<svg" in data[:4096].lower() or head.startswith(b"<?xml")):
        return f"SVG images are not accepted (they can carry scripts). Upload a {ACCEPTED} image instead."
    if head.startswith(b"<"):
        return f"This file is HTML or XML, not an image, whatever its name says. Upload a {ACCEPTED} image."
    return f"This file is not a {ACCEPTED} image (its content was checked, not its name)."


def _png(data: bytes) -> ImageInfo:
    position, width, height, seen_idat = 8, 0, 0, False
    while True:
        if position + 8 > len(data):
            raise _truncated("PNG")
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        end = position + 8 + length + 4
        if length > 0x7FFFFFFF or end > len(data):
            raise _truncated("PNG")
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(kind + body) != crc:
            raise _truncated("PNG")
        if position == 8:
            if kind != b"IHDR" or length != 13:
                raise _truncated("PNG")
            width, height = struct.unpack(">II", body[:8])
        seen_idat = seen_idat or kind == b"IDAT"
        position = end
        if kind == b"IEND":
            break
    if not seen_idat:
        raise _truncated("PNG")
    return ImageInfo("image/png", ".png", width, height)


_JPEG_FRAMES = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(data: bytes) -> ImageInfo:
    position, size = 2, None
    while True:
        while position < len(data) and data[position] == 0xFF:
            position += 1  # markers may be padded with fill bytes
        if position >= len(data) or data[position - 1] != 0xFF:
            raise _truncated("JPEG")
        marker = data[position]
        position += 1
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            continue
        if marker == 0xD9:
            raise _truncated("JPEG")  # end of image before any image data
        if position + 2 > len(data):
            raise _truncated("JPEG")
        (length,) = struct.unpack(">H", data[position : position + 2])
        if length < 2 or position + length > len(data):
            raise _truncated("JPEG")
        if marker in _JPEG_FRAMES:
            if length < 7:
                raise _truncated("JPEG")
            height, width = struct.unpack(">HH", data[position + 3 : position + 7])
            size = (width, height)
        position += length
        if marker == 0xDA:
            break
    if size is None or not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise _truncated("JPEG")
    return ImageInfo("image/jpeg", ".jpg", size[0], size[1])


def _gif(data: bytes) -> ImageInfo:
    if len(data) < 13:
        raise _truncated("GIF")
    width, height, flags = struct.unpack("<HHB", data[6:11])
    position = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    frames = 0

    def skip_sub_blocks(at: int) -> int:
        while True:
            if at >= len(data):
                raise _truncated("GIF")
            block = data[at]
            at += 1 + block
            if block == 0:
                return at

    while True:
        if position >= len(data):
            raise _truncated("GIF")
        introducer = data[position]
        if introducer == 0x3B:
            break
        if introducer == 0x21:
            position = skip_sub_blocks(position + 2)
        elif introducer == 0x2C:
            if position + 10 > len(data):
                raise _truncated("GIF")
            local = data[position + 9]
            position += 10 + (3 * 2 ** ((local & 7) + 1) if local & 0x80 else 0)
            position = skip_sub_blocks(position + 1)  # after the LZW minimum code size
            frames += 1
        else:
            raise _truncated("GIF")
    if not frames:
        raise _truncated("GIF")
    return ImageInfo("image/gif", ".gif", width, height)


def _webp(data: bytes) -> ImageInfo:
    (riff_size,) = struct.unpack("<I", data[4:8])
    if riff_size + 8 > len(data) or riff_size < 4 + 8 + 10:
        raise _truncated("WebP")
    kind, chunk_size = struct.unpack("<4sI", data[12:20])
    chunk = data[20 : 20 + chunk_size]
    if len(chunk) < chunk_size:
        raise _truncated("WebP")
    if kind == b"VP8X" and chunk_size >= 10:
        width = 1 + int.from_bytes(chunk[4:7], "little")
        height = 1 + int.from_bytes(chunk[7:10], "little")
    elif kind == b"VP8L" and chunk_size >= 5 and chunk[0] == 0x2F:
        bits = int.from_bytes(chunk[1:5], "little")
        width, height = 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    elif kind == b"VP8 " and chunk_size >= 10 and chunk[3:6] == b"\x9d\x01\x2a":
        width = int.from_bytes(chunk[6:8], "little") & 0x3FFF
        height = int.from_bytes(chunk[8:10], "little") & 0x3FFF
    else:
        raise _truncated("WebP")
    return ImageInfo("image/webp", ".webp", width, height)
