"""The two image classifiers of Triton's example repository, with scores that
need no network.

`densenet_onnx` and `inception_graphdef` have the names, tensors, configs and
label files of triton-inference-server/server's docs/examples/model_repository,
so that image_client.py and the Lua port run against them unchanged. No
network runs here: each image gets a deterministic score from a few statistics
of its (already preprocessed) pixels, enough for a red, a green, a blue, a
striped and a plain image to land on different, fitting classes. With
r = range of the image's values (max - min, or 1 when the image is flat):

  colour:  for each channel its mean m_c; redness = (m_R - max(m_G, m_B)) / r,
           greenness and blueness likewise, each at least 0
  stripes: the mean of each column (over rows and channels) and of each row;
           vertical = 4 var(column means) / r^2, horizontal = 4 var(row means) / r^2
           (1 for half-and-half black and white stripes, 0 for a flat image)
  logits:  10 * redness -> STRAWBERRY, 10 * greenness -> GRANNY SMITH,
           10 * blueness -> LAKESIDE, 10 * vertical -> ZEBRA,
           10 * horizontal -> WINDOW SHADE, a constant 2 -> STONE WALL (what a
           plain image gets), every other class 0.

The statistics are ratios, so they do not depend on the client's scaling
(NONE, INCEPTION or VGG shift and scale every channel alike, up to VGG's small
per-channel offsets). densenet_onnx returns the logits (its fc6_1 output is
pre-softmax in the original too); inception_graphdef returns their softmax,
with index 0 its "UNUSED BACKGROUND" class at logit 0.
"""

import os

import numpy as np

from .models import Model, ModelError, config, io

LABEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "labels")


def read_labels(filename):
    with open(os.path.join(LABEL_DIR, filename), encoding="ascii") as f:
        return [line.rstrip("\n") for line in f]


# The classes the statistics vote for, by name (0-based indices of the 1000
# ImageNet classes as densenet_labels.txt orders them; inception's are one more).
STRAWBERRY, GRANNY_SMITH, LAKESIDE = 949, 948, 975
ZEBRA, WINDOW_SHADE, STONE_WALL = 340, 905, 825
GAIN, PLAIN = 10.0, 2.0


def logits(hwc):
    """The 1000 logits of one image given as an array {H, W, C} (C = 3)."""
    x = np.asarray(hwc, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ModelError("image input holds NaN or infinite values")
    span = float(x.max() - x.min()) or 1.0
    m = x.mean(axis=(0, 1))
    z = np.zeros(1000, dtype=np.float64)
    for idx, c in ((STRAWBERRY, 0), (GRANNY_SMITH, 1), (LAKESIDE, 2)):
        others = [m[o] for o in range(3) if o != c]
        z[idx] = GAIN * max(0.0, (m[c] - max(others)) / span)
    z[ZEBRA] = GAIN * 4 * x.mean(axis=(0, 2)).var() / span ** 2
    z[WINDOW_SHADE] = GAIN * 4 * x.mean(axis=(1, 2)).var() / span ** 2
    z[STONE_WALL] = PLAIN
    return z


class DenseNet(Model):
    """densenet_onnx: data_0 FP32 [3,224,224] NCHW -> fc6_1 FP32 [1000] logits."""

    def __init__(self):
        super().__init__(config(
            "densenet_onnx",
            [io("data_0", "FP32", [3, 224, 224], format="FORMAT_NCHW",
                reshape={"shape": [1, 3, 224, 224]})],
            [io("fc6_1", "FP32", [1000], reshape={"shape": [1, 1000, 1, 1]},
                label_filename="densenet_labels.txt")]))
        self.labels = {"fc6_1": read_labels("densenet_labels.txt")}

    def execute(self, inputs, ctx):
        chw = inputs["data_0"]
        return {"fc6_1": logits(np.transpose(chw, (1, 2, 0))).astype(np.float32)}


class Inception(Model):
    """inception_graphdef: input FP32 [-1,299,299,3] NHWC -> softmax FP32 [-1,1001]."""

    def __init__(self):
        super().__init__(config(
            "inception_graphdef",
            [io("input", "FP32", [299, 299, 3], format="FORMAT_NHWC")],
            [io("InceptionV3/Predictions/Softmax", "FP32", [1001],
                label_filename="inception_labels.txt")],
            max_batch_size=128))
        self.labels = {"InceptionV3/Predictions/Softmax": read_labels("inception_labels.txt")}

    def execute(self, inputs, ctx):
        rows = []
        for hwc in inputs["input"]:
            z = np.concatenate(([0.0], logits(hwc)))
            e = np.exp(z - z.max())
            rows.append(e / e.sum())
        return {"InceptionV3/Predictions/Softmax": np.asarray(rows, dtype=np.float32)}


def image_models():
    return [DenseNet(), Inception()]
