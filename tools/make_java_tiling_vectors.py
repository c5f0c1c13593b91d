"""Writes the tiling test vectors of the Java codec core (android_demo/codec-core).

The Python edge runtime runs each model in tiles when its input exceeds the
model's static size (or `tfcodec.tiling.TILE_PIXELS`): `tfcodec.tiling.run_tiled`
cuts the input, each piece smaller than the static size is padded at the
bottom/right (reflected image, zero latents) and its output cropped back
(`EdgeCodec._run_piece`), and the cores are stitched. The Java core does the
same (`Tiling`, `EdgeCodec.run`); these vectors prove both stitch the same
output. The JVM has no TFLite, so the model is a stand-in both sides compute
exactly: `fake_model`, integer weights on integer inputs, with the role's
stride and a receptive field reaching exactly the halo `tiling` promises, so a
wrong tile, halo, padding or crop changes the output. Writes
``android_demo/codec-core/src/test/resources/vectors/tiling.txt`` (the record
format of ``tools/make_java_vectors.py``): ``constants tiling``, one
``geometry`` per role, and ``case`` records (role, static size or ``-``, padding
mode, input, and the stitched output or the tiling error).

    python tools/make_java_tiling_vectors.py          # (re)write the file
    python tools/make_java_tiling_vectors.py --check  # exit 1 if it is out of date
"""

import argparse
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from java_vector_records import Writer, ints, read_text  # noqa: E402

from tfcodec import tiling  # noqa: E402
from tfcodec.models.config import HyperpriorConfig  # noqa: E402

PATH = os.path.join(ROOT, "android_demo", "codec-core", "src", "test", "resources", "vectors", "tiling.txt")
HEADER = ("# Written by tools/make_java_tiling_vectors.py from tfcodec's Python reference; do not edit.\n"
          "# Records: '<type> <name>', then '<key> <value>' lines, then 'end'.\n"
          "# Arrays are HWC, flattened in C order.\n")
# tiny-cw's slice nets (tools/make_java_latent_vectors.py): two hidden layers, so an LRP halo of 3.
CONFIG = HyperpriorConfig("cw2020", 8, 16, 8, 8, num_slices=4, slice_hidden=(12, 8), gain_levels=4)
ROLES = ("analysis", "hyper_analysis", "lrp_0", "synthesis")


def offsets(down, reach):
    """The input rows/columns an output reads, relative to its anchor: both ends of the
    receptive field (the halo) and the anchor's own block."""
    return sorted({-reach, -1, 0, down - 1, down - 1 + reach})


def fake_model(x, geometry, out_channels):
    """A role-shaped stand-in for a TFLite model, exact in float32 (integer sums below 2**24).

    Output (i, j) reads the input at its anchor (i * down, or i // up when upsampling) plus the
    offsets above (zero outside the input, like a 'same' convolution), with an integer weight that
    depends on the output channel, the input channel, the offset and the output's phase within
    its upsampled block (Java: EdgeCodecTilingTest.fakeModel).
    """
    scale = geometry.scale
    down, up = scale.denominator, scale.numerator
    reach = geometry.halo
    h, w, c = x.shape
    oh, ow = h * up // down, w * up // down
    values = np.asarray(x, np.float64)
    assert np.array_equal(values, np.rint(values)), "the stand-in takes integer-valued inputs"
    values = values.astype(np.int64)
    ii, jj = np.arange(oh), np.arange(ow)
    anchor_i, anchor_j = ii * down // up, jj * down // up
    phase_i, phase_j = ii % up, jj % up
    taps = offsets(down, reach)
    out = np.zeros((oh, ow, out_channels), np.int64)
    for ka, a in enumerate(taps):
        rows = anchor_i + a
        row_ok = (rows >= 0) & (rows < h)
        for kb, b in enumerate(taps):
            cols = anchor_j + b
            col_ok = (cols >= 0) & (cols < w)
            seen = values[np.clip(rows, 0, h - 1)][:, np.clip(cols, 0, w - 1)]  # (oh, ow, c)
            seen = seen * (row_ok[:, None] & col_ok[None, :])[..., None]
            for o in range(out_channels):
                for ch in range(c):
                    weight = ((o + 1) * (ch + 2) + 3 * ka + 5 * kb + 7 * phase_i[:, None] + 11 * phase_j[None, :]) % 7 - 3
                    out[..., o] += weight * seen[..., ch]
    assert np.abs(out).max(initial=0) < 1 << 24
    return out.astype(np.float32)


def run_piece(part, size, mode, model):
    """One model call as the edge runtime makes it (`EdgeCodec._run_piece`): a static-shape
    model gets a smaller piece padded at the bottom/right and its output cropped back."""
    h, w = part.shape[:2]
    if size is not None:
        part = np.pad(part, ((0, size[0] - h), (0, size[1] - w), (0, 0)), mode=mode)
    out = model(part)
    scale = out.shape[0] / part.shape[0]
    return out[:round(h * scale), :round(w * scale)]


# (name, role, static size or None, input shape, input values below, output channels)
CASES = [
    ("analysis_both_axes", "analysis", (96, 96), (112, 176, 1), 10, 2),
    ("analysis_short_rows", "analysis", (96, 96), (64, 176, 1), 10, 2),
    ("analysis_fits", "analysis", (96, 128), (48, 80, 1), 10, 2),
    ("hyper_analysis_wide", "hyper_analysis", (24, 24), (20, 40, 2), 10, 2),
    ("hyper_analysis_both_axes", "hyper_analysis", (24, 28), (36, 56, 1), 10, 2),
    ("hyper_analysis_too_small", "hyper_analysis", (16, 16), (20, 40, 2), 10, 2),
    ("lrp_static", "lrp_0", (8, 8), (10, 19, 3), 20, 2),
    ("lrp_dynamic", "lrp_0", None, (3, 70, 2), 20, 1),
    ("synthesis_static", "synthesis", (6, 6), (4, 11, 1), 20, 1),
    ("synthesis_too_small", "synthesis", (4, 4), (4, 11, 1), 20, 1),
]


def build():
    w = Writer(HEADER, "Tiled model runs: the Python edge runtime's tiling with a stand-in model.")
    w.record("constants", "tiling", [("tile_pixels", tiling.TILE_PIXELS)])
    for role in ROLES:
        g = tiling.hyperprior_geometry(role, CONFIG)
        w.record("geometry", role, [("hidden_layers", len(CONFIG.slice_hidden)),
                                    ("scale", f"{g.scale.numerator} {g.scale.denominator}"),
                                    ("halo", g.halo), ("align", g.align), ("default_tile", ints(tiling.default_tile(role)))])
    rng = np.random.default_rng(26)
    for name, role, size, shape, high, out_channels in CASES:
        geometry = tiling.hyperprior_geometry(role, CONFIG)
        mode = "reflect" if role == "analysis" else "constant"
        x = rng.integers(0, high, size=shape).astype(np.float32)
        tile = tuple(size) if size is not None else tiling.default_tile(role)
        calls = []

        def piece(part):
            calls.append(part.shape)
            return run_piece(part, size, mode, lambda p: fake_model(p, geometry, out_channels))

        fields = [("role", role), ("static", ints(size) if size is not None else "-"), ("padding", mode),
                  ("out_channels", out_channels), ("shape", ints(shape)), ("input", ints(x))]
        try:
            y = tiling.run_tiled(piece, x, tile, geometry)
        except tiling.TilingError as e:
            w.record("case", name, fields + [("verdict", "too_small"), ("error", str(e))])
            continue
        assert len(calls) > 1 or name.endswith("_fits"), f"{name} should need tiles"
        fields += [("verdict", "ok"), ("calls", len(calls)), ("output_shape", ints(y.shape)), ("output", ints(y))]
        w.record("case", name, fields)
    return w.text()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed file is out of date")
    args = parser.parse_args(argv)
    text = build()
    if read_text(PATH) == text:
        print("tiling vectors are up to date")
        return 0
    if args.check:
        print("out of date (run python tools/make_java_tiling_vectors.py): " + os.path.relpath(PATH, ROOT))
        return 1
    with open(PATH, "w") as f:
        f.write(text)
    print(f"wrote {os.path.relpath(PATH, ROOT)} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
