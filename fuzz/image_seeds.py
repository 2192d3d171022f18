#!/usr/bin/python3
"""image_seeds.py: writes the seeds of the jpeg and png fuzz targets
(fuzz/corpus/jpeg, fuzz/corpus/png): small files of every kind the decoders
handle, drawn with Debian's python3-pil (and, for what Pillow cannot write, an
interlaced PNG built by hand). Usage: /usr/bin/python3 fuzz/image_seeds.py
"""
import io
import os
import struct
import zlib

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))


def drawn(w, h, mode):
    y, x = np.mgrid[0:h, 0:w]
    px = np.stack([x * 255 // w, y * 255 // h, (x ^ y) * 8 % 256, (x + y) * 4 % 256], -1)
    img = Image.fromarray(px.astype(np.uint8), "RGBA")
    return img if mode == "RGBA" else img.convert(mode)


def save(img, fmt, **opts):
    buf = io.BytesIO()
    img.save(buf, fmt, **opts)
    return buf.getvalue()


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def interlaced_png(w, h):
    """Adam7, RGB, every pass filtered with None."""
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
              (0, 1, 1, 2)]
    raw = b""
    for x0, y0, dx, dy in passes:
        for y in range(y0, h, dy):
            row = bytes(v for x in range(x0, w, dx) for v in (x * 20 % 256, y * 30 % 256, 99))
            if row:
                raw += b"\0" + row
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 1)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def main():
    jpeg = {
        "baseline.jpg": save(drawn(24, 16, "RGB"), "JPEG", quality=80),
        "grey.jpg": save(drawn(16, 9, "L"), "JPEG", quality=60),
        "progressive.jpg": save(drawn(20, 20, "RGB"), "JPEG", quality=70, progressive=True),
        "444.jpg": save(drawn(17, 11, "RGB"), "JPEG", quality=90, subsampling=0),
        "cmyk.jpg": save(drawn(12, 12, "CMYK"), "JPEG", quality=75),
        "restart.jpg": save(drawn(32, 32, "RGB"), "JPEG", quality=50, restart_marker_blocks=1),
    }
    pal = drawn(16, 16, "RGB").quantize(16)
    pal.info["transparency"] = 2
    png = {
        "rgb.png": save(drawn(9, 7, "RGB"), "PNG"),
        "rgba.png": save(drawn(8, 8, "RGBA"), "PNG"),
        "grey.png": save(drawn(10, 3, "L"), "PNG"),
        "grey_alpha.png": save(drawn(5, 5, "LA"), "PNG"),
        "bits1.png": save(drawn(13, 4, "1"), "PNG"),
        "palette.png": save(drawn(16, 16, "RGB").quantize(16), "PNG"),
        "palette_trns.png": save(pal, "PNG", transparency=2),
        "grey16.png": save(Image.fromarray((np.arange(48).reshape(6, 8) * 1000).astype(np.uint16)),
                           "PNG"),
        "interlaced.png": interlaced_png(11, 9),
    }
    for name, files in (("jpeg", jpeg), ("png", png)):
        folder = os.path.join(HERE, "corpus", name)
        os.makedirs(folder, exist_ok=True)
        for fname, data in files.items():
            with open(os.path.join(folder, fname), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
