#!/usr/bin/python3
"""compare_pil.py: triton.image against Pillow + numpy, stage by stage.

Draws and encodes the test images (nothing is downloaded), runs
tests/image/dump.lua in the tritonlua host (or any Lua given by TRITON_IMAGE_LUA)
to get triton.image's results, computes the same with Debian's python3-pil and
numpy the way Triton's image_client.py does, and compares:
  decode, convert (L / RGB), resize (bilinear and nearest, RGBA premultiplied):
      UINT8, equal (issue 13 allowed 1; the same libjpeg settings and Pillow's
      integer resize give the same bytes, on any thread count and with or
      without AVX2, and this pins it);
  preprocess (NONE / INCEPTION / VGG x NCHW / NHWC x 1 / 3 channels, FP32,
      plus FP16 and INT16 samples): within 1/127.5.
Prints the maximum absolute difference per stage and exits non-zero on a miss.
Usage: compare_pil.py   (env: TRITONLUA or TRITON_IMAGE_LUA, TRITON_SOURCE_DIR)
"""
import io
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
UINT8_TOLERANCE = 0
FLOAT_TOLERANCE = 1 / 127.5

# (width, height, mode, format, save options): 17x9 up to 1920x1080, grey, RGB,
# RGBA, palette; PNG and JPEG at several qualities, progressive, 4:4:4 and CMYK too.
IMAGES = [
    (17, 9, "RGB", "PNG", {}),
    (9, 17, "L", "PNG", {}),
    (17, 9, "RGB", "JPEG", {"quality": 95}),
    (31, 47, "RGBA", "PNG", {}),
    (64, 64, "L", "JPEG", {"quality": 75}),
    (100, 75, "RGB", "JPEG", {"quality": 50}),
    (128, 96, "RGBA", "PNG", {}),
    (224, 224, "RGB", "PNG", {}),
    (299, 299, "RGB", "JPEG", {"quality": 90}),
    (300, 200, "P", "PNG", {}),
    (320, 240, "RGB", "JPEG", {"quality": 30}),
    (333, 500, "RGBA", "PNG", {}),
    (480, 640, "RGB", "JPEG", {"quality": 85}),
    (500, 333, "L", "JPEG", {"quality": 95}),
    (640, 480, "RGB", "PNG", {}),
    (800, 600, "RGB", "JPEG", {"quality": 100, "subsampling": 0}),
    (1024, 768, "RGBA", "PNG", {}),
    (1280, 720, "L", "PNG", {}),
    (1600, 1200, "RGB", "JPEG", {"quality": 70, "progressive": True}),
    (1920, 1080, "RGB", "JPEG", {"quality": 90}),
    (200, 150, "CMYK", "JPEG", {"quality": 90}),  # beyond the 20: Adobe CMYK
]
TARGETS = [(224, 224), (299, 299), (7, 13)]
VGG = {1: (128,), 3: (123, 117, 104)}


def draw(w, h, mode, seed):
    """Gradients, a few hard edges and noise: every rounding path gets exercised."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    r = x * 255 // max(w - 1, 1)
    g = y * 255 // max(h - 1, 1)
    b = ((x // 7 + y // 5) % 2) * 200 + 20
    a = (x + 2 * y) * 255 // max(w + 2 * h - 3, 1)
    px = np.stack([r, g, b, a], -1) + rng.integers(-25, 26, (h, w, 4))
    px = np.clip(px, 0, 255).astype(np.uint8)
    rgba = Image.fromarray(px, "RGBA")
    if mode == "RGBA":
        return rgba
    if mode == "P":
        pal = rgba.convert("RGB").quantize(64)
        pal.info["transparency"] = 3
        return pal
    return rgba.convert(mode)


def pil_preprocess(img, c, h, w, scaling, fmt, npdtype):
    """image_client.py's preprocess, in its own words."""
    sample = img.convert("L") if c == 1 else img.convert("RGB")
    resized = np.array(sample.resize((w, h), Image.BILINEAR))
    if resized.ndim == 2:
        resized = resized[:, :, np.newaxis]
    typed = resized.astype(npdtype)
    if scaling == "INCEPTION":
        scaled = (typed / 127.5) - 1
    elif scaling == "VGG":
        scaled = typed - np.asarray(VGG[c], dtype=npdtype)
    else:
        scaled = typed
    return np.transpose(scaled, (2, 0, 1)) if fmt == "NCHW" else scaled


def decoded_like_us(img):
    """What triton.image.decode promises for each Pillow mode."""
    if img.mode == "P":
        return np.array(img.convert("RGBA" if "transparency" in img.info else "RGB"))
    if img.mode == "LA":
        return np.array(img.convert("RGBA"))
    if img.mode == "CMYK":
        return np.array(img.convert("RGB"))
    a = np.array(img)
    return a[:, :, np.newaxis] if a.ndim == 2 else a


def lua_command():
    lua = os.environ.get("TRITON_IMAGE_LUA") or os.environ.get("TRITONLUA")
    if not lua:
        sys.exit("compare_pil.py: set TRITONLUA (the tritonlua host) or TRITON_IMAGE_LUA")
    return lua.split()


def main():
    work = tempfile.mkdtemp(prefix="triton-image-")
    plan, expect = [], []

    def job(kind, stage, tolerance, want, path, *args):
        out = os.path.join(work, "out%d.raw" % len(plan))
        plan.append(" ".join([kind, out, path] + [str(a) for a in args]))
        expect.append((stage, tolerance, want, out, "%s %s" % (os.path.basename(path), args)))

    for n, (w, h, mode, fmt, opts) in enumerate(IMAGES):
        path = os.path.join(work, "img%02d_%dx%d_%s.%s" % (n, w, h, mode, fmt.lower()))
        draw(w, h, mode, n).save(path, fmt, **opts)
        img = Image.open(path)
        img.load()
        job("decode", "decode", UINT8_TOLERANCE, decoded_like_us(img), path)
        for c, pmode in ((1, "L"), (3, "RGB")):
            conv = img.convert(pmode)
            want = np.array(conv)
            job("convert", "convert", UINT8_TOLERANCE, want.reshape(h, w, c), path, pmode)
            for th, tw in TARGETS:
                for filt, pfilt in (("bilinear", Image.BILINEAR), ("nearest", Image.NEAREST)):
                    want = np.array(conv.resize((tw, th), pfilt)).reshape(th, tw, c)
                    job("resize", "resize " + filt, UINT8_TOLERANCE, want, path, pmode, th, tw,
                        filt)
            for scaling in ("NONE", "INCEPTION", "VGG"):
                for layout in ("NCHW", "NHWC"):
                    want = pil_preprocess(img, c, 224, 224, scaling, layout, np.float32)
                    job("preprocess", "preprocess FP32 " + scaling, FLOAT_TOLERANCE, want, path,
                        c, 224, 224, scaling, layout, "FP32")
        if mode == "RGBA":  # Pillow premultiplies alpha around a bilinear resize
            for th, tw in TARGETS:
                want = np.array(img.resize((tw, th), Image.BILINEAR))
                job("resize_raw", "resize RGBA bilinear", UINT8_TOLERANCE, want, path, th, tw,
                    "bilinear")
        if n % 5 == 0:  # other dtypes: numpy's arithmetic in float16 and wrapping int16
            for scaling, dt, npdt in (("INCEPTION", "FP16", np.float16), ("VGG", "INT16", np.int16),
                                      ("VGG", "UINT8", np.uint8), ("INCEPTION", "FP64", np.float64)):
                want = pil_preprocess(img, 3, 224, 224, scaling, "NCHW", npdt)
                job("preprocess", "preprocess %s %s" % (dt, scaling), FLOAT_TOLERANCE, want, path,
                    3, 224, 224, scaling, "NCHW", dt)

    plan_path = os.path.join(work, "plan.txt")
    with open(plan_path, "w") as f:
        f.write("\n".join(plan) + "\n")
    script = os.path.join(HERE, "dump.lua")
    subprocess.run(lua_command() + [script, plan_path], check=True)

    worst, failures = {}, []
    for stage, tolerance, want, out, what in expect:
        with open(out + ".shape") as f:
            shape = tuple(int(d) for d in f.read().split())
        with open(out, "rb") as f:
            got = np.frombuffer(f.read(), dtype=want.dtype).reshape(shape)
        if got.shape != want.shape:
            failures.append("%s %s: shape %s, Pillow %s" % (stage, what, got.shape, want.shape))
            continue
        diff = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
        worst[stage] = max(worst.get(stage, 0.0), diff)
        if diff > tolerance:
            failures.append("%s %s: max difference %g > %g" % (stage, what, diff, tolerance))
    for stage in sorted(worst):
        print("%-28s max abs difference %g" % (stage, worst[stage]))
    for f in failures:
        print("FAIL " + f)
    print("%d passed, %d failed" % (len(expect) - len(failures), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
