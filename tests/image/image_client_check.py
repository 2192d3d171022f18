#!/usr/bin/python3
"""image_client_check.py: runs examples/image_client.lua against the reference
server (started by scripts/with-testserver, which exports TRITON_HTTP_URL and
TRITON_GRPC_URL) and compares what it prints with the expected lines.

Draws a red, a green and a striped PNG (nothing is downloaded); the reference
server's densenet_onnx and inception_graphdef score them as
docs/reference-server.md describes, so each lands on its own class.
Usage: image_client_check.py TRITONLUA EXAMPLE http|grpc
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

DENSENET_C3 = """\
Request 1, batch size 1
    10.000000 (949) = STRAWBERRY
    2.000000 (825) = STONE WALL
    0.000000 (0) = TENCH
Request 2, batch size 1
    10.000000 (948) = GRANNY SMITH
    2.000000 (825) = STONE WALL
    0.000000 (0) = TENCH
Request 3, batch size 1
    9.412094 (340) = ZEBRA
    2.000000 (825) = STONE WALL
    0.000000 (0) = TENCH
PASS
"""

INCEPTION_B2_C3 = """\
Request 1, batch size 2
    0.956306 (950) = STRAWBERRY
    0.000321 (826) = STONE WALL
    0.000043 (0) = UNUSED BACKGROUND
    0.956306 (949) = GRANNY SMITH
    0.000321 (826) = STONE WALL
    0.000043 (0) = UNUSED BACKGROUND
Request 2, batch size 2
    0.935301 (341) = ZEBRA
    0.000475 (826) = STONE WALL
    0.000064 (0) = UNUSED BACKGROUND
    0.956306 (950) = STRAWBERRY
    0.000321 (826) = STONE WALL
    0.000043 (0) = UNUSED BACKGROUND
PASS
"""

INCEPTION_VGG_C1 = """\
Request 1, batch size 1
    0.928494 (950) = STRAWBERRY
Request 2, batch size 1
    0.913561 (949) = GRANNY SMITH
Request 3, batch size 1
    0.800157 (341) = ZEBRA
PASS
"""


def draw(folder):
    Image.new("RGB", (320, 240), (255, 0, 0)).save(os.path.join(folder, "1_red.png"))
    Image.new("RGB", (300, 200), (0, 255, 0)).save(os.path.join(folder, "2_green.png"))
    stripes = np.zeros((224, 448, 3), np.uint8)
    stripes[:, (np.arange(448) // 28) % 2 == 0] = 255
    Image.fromarray(stripes).save(os.path.join(folder, "3_stripes.png"))


def by_request(text):
    """The output's request blocks in request-id order (async and streaming print
    them as they complete, as NVIDIA's client does)."""
    lines = text.splitlines(keepends=True)
    blocks, tail = [], []
    for line in lines:
        if line.startswith("Request "):
            blocks.append([line])
        elif blocks and line.startswith("    "):
            blocks[-1].append(line)
        else:
            tail.append(line)
    blocks.sort(key=lambda b: int(b[0].split()[1].rstrip(",")))
    return "".join("".join(b) for b in blocks) + "".join(tail)


def main():
    host, example, proto = sys.argv[1:4]
    url = os.environ["TRITON_%s_URL" % proto.upper()]
    folder = tempfile.mkdtemp(prefix="image-client-")
    draw(folder)
    runs = [
        (["-m", "densenet_onnx", "-c", "3", "-s", "INCEPTION", folder], DENSENET_C3),
        (["-m", "inception_graphdef", "-b", "2", "-c", "3", "-s", "INCEPTION", folder],
         INCEPTION_B2_C3),
        (["-m", "inception_graphdef", "-s", "VGG", "-a", folder], INCEPTION_VGG_C1),
    ]
    if proto == "grpc":
        runs.append((["-m", "inception_graphdef", "-b", "2", "-c", "3", "-s", "INCEPTION",
                      "--streaming", folder], INCEPTION_B2_C3))
    failed = 0
    for args, want in runs:
        cmd = [host, example, "-u", url, "-i", proto] + args
        done = subprocess.run(cmd, capture_output=True, text=True)
        in_completion_order = "-a" in args or "--streaming" in args
        got = by_request(done.stdout) if in_completion_order else done.stdout
        ok = done.returncode == 0 and got == want
        print("%s: %s" % ("ok" if ok else "FAIL", " ".join(cmd[1:])))
        if not ok:
            failed += 1
            print("--- expected\n%s--- got (exit %d)\n%s%s" % (want, done.returncode, done.stdout,
                                                            done.stderr))
    print("%d passed, %d failed" % (len(runs) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
