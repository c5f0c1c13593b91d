"""Golden streams of every shipped model: the bytes `tests/test_golden_streams.py` holds the code to.

    python tools/make_golden_streams.py [--image tests/data/golden_image.png]

Compresses the committed test image (a crop of a training photo, 120x176: both sides off the
64-pixel grid, so padding and cropping are exercised) with each shipped model at three
settings, decodes each stream, and writes tests/data/golden_streams.npz: the stream bytes and
the decoded pixels. Rerun it only when a change is meant to alter the streams, and say so.
"""

import argparse
import io
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "golden_streams.npz")
IMAGE = os.path.join(ROOT, "tests", "data", "golden_image.png")

# (shipped model, its settings): qualities for the hyperprior family, iterations for the recurrent.
CASES = {
    "cw2020-small-full-range": (0.0, 0.5, 1.0),
    "rnn-gru-small": (1, 4, 8),
    "rnn-gru-small-msssim-late": (1, 4, 8),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=IMAGE)
    parser.add_argument("--out", default=OUT)
    args = parser.parse_args(argv)
    from tfcodec.api import load_codec
    from tfcodec.fileio import read_image, write_atomic

    rgb = read_image(args.image)
    arrays = {}
    for model, settings in CASES.items():
        codec = load_codec(model)
        for setting in settings:
            data = codec.compress(rgb, setting)
            key = f"{model}@{setting}"
            arrays[f"stream/{key}"] = np.frombuffer(data, np.uint8)
            arrays[f"decoded/{key}"] = codec.decompress(data)
            print(f"{key}: {len(data)} bytes", file=sys.stderr)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    write_atomic(args.out, buffer.getvalue())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
