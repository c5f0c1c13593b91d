"""The LiteRT float path against the Keras path on the same images: sizes, PSNR, interchange.

    python benchmarks/compare_backends.py [--data FOLDER] [--model default] [--qualities 0.1,0.5,0.9]
                                          [--out benchmarks/results/compare_backends.md]

For every image and quality it compresses with both backends of
`tfcodec.api.load_codec` ("tf": Keras; "litert": the float32 LiteRT models
shipped beside the weights), then:

* counts the files that differ, and the decoded latents that differ: float
  rounding in the two runtimes' transforms may move an encoder's y across a
  rounding boundary (the table-selecting nets are integer, so decoders never
  differ: only the encoder's choice of symbols can). One moved symbol moves
  the means of the slices after it, so a latent counts as differing wherever
  its decoded value (symbol + mean) does;
* compares file sizes (headers included) and PSNR (tf.image.psnr on RGB
  0-255, per image, then averaged) of each backend's own round trip;
* decodes each backend's stream on the other backend and checks the pixels
  against the same stream decoded by its own backend (the criterion: within 1).

Defaults to the Kodak folder beside the repository: measurement only, nothing
is tuned on it.
"""

import argparse
import os
import statistics
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
KODAK = os.path.join(HERE, "..", "..", "shared", "data", "kodak")


def latent_symbols(codec, data):
    """Every coded symbol of a stream (z, then each slice), as the decoder rebuilds them."""
    from tfcodec import container

    header, strings = container.unpack(data)
    decoded, _ = codec.latents.decode(header, strings)
    return np.concatenate([d.ravel() for d in decoded])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=KODAK)
    parser.add_argument("--model", default="default")
    parser.add_argument("--qualities", default="0.1,0.5,0.9")
    parser.add_argument("--limit", type=int, default=24)
    parser.add_argument("--out", default=os.path.join(HERE, "results", "compare_backends.md"))
    args = parser.parse_args(argv)

    from PIL import Image

    from tfcodec.api import load_codec
    from tfcodec.evaluate.metrics import psnr

    tf_codec = load_codec(args.model, backend="tf")
    lite = load_codec(args.model, backend="litert")
    shown = os.path.relpath(args.data, os.path.join(HERE, ".."))
    names = sorted(f for f in os.listdir(args.data) if f.lower().endswith((".png", ".jpg")))[:args.limit]
    qualities = [float(q) for q in args.qualities.split(",")]
    rows, worst_cross = [], 0
    for q in qualities:
        row = dict(quality=q, files=0, differ=0, symbols=0, flipped=0, bytes_tf=0, bytes_lite=0,
                   psnr_tf=[], psnr_lite=[], cross=0)
        for name in names:
            rgb = np.asarray(Image.open(os.path.join(args.data, name)).convert("RGB"))
            a, b = tf_codec.compress(rgb, q), lite.compress(rgb, q)
            own_a, own_b = tf_codec.decompress(a), lite.decompress(b)
            cross_a, cross_b = lite.decompress(a), tf_codec.decompress(b)
            cross = max(int(np.max(np.abs(own_a.astype(int) - cross_a))),
                        int(np.max(np.abs(own_b.astype(int) - cross_b))))
            sa, sb = latent_symbols(tf_codec, a), latent_symbols(tf_codec, b)
            row["files"] += 1
            row["differ"] += a != b
            row["symbols"] += sa.size
            row["flipped"] += int(np.sum(sa != sb))
            row["bytes_tf"] += len(a)
            row["bytes_lite"] += len(b)
            row["psnr_tf"].append(psnr(rgb, own_a))
            row["psnr_lite"].append(psnr(rgb, own_b))
            row["cross"] = max(row["cross"], cross)
            print(f"q={q} {name}: {len(a)} / {len(b)} bytes, {int(np.sum(sa != sb))} symbols differ, "
                  f"cross-decode max |diff| {cross}", file=sys.stderr)
        worst_cross = max(worst_cross, row["cross"])
        rows.append(row)

    lines = [f"# LiteRT float path vs Keras path: {lite.name} on {len(names)} images of {shown}", "",
             "`python benchmarks/compare_backends.py` (both backends in the same run).", "",
             "| quality | files differing | decoded latents differing | size LiteRT / TF | PSNR TF | PSNR LiteRT "
             "| PSNR difference | max pixel difference, cross-decoded |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        mean_tf, mean_lite = statistics.mean(r["psnr_tf"]), statistics.mean(r["psnr_lite"])
        lines.append(
            f"| {r['quality']:g} | {r['differ']} of {r['files']} | {r['flipped']} of {r['symbols']} "
            f"({r['flipped'] / r['symbols']:.2e}) | {r['bytes_lite'] / r['bytes_tf'] - 1:+.4%} "
            f"| {mean_tf:.4f} | {mean_lite:.4f} | {mean_lite - mean_tf:+.5f} dB | {r['cross']} |")
    ok_size = all(abs(r["bytes_lite"] / r["bytes_tf"] - 1) <= 0.001 for r in rows)
    ok_psnr = all(abs(statistics.mean(r["psnr_lite"]) - statistics.mean(r["psnr_tf"])) <= 0.01 for r in rows)
    lines += ["", f"Criteria: sizes within 0.1 %: {ok_size}; PSNR within 0.01 dB: {ok_psnr}; "
                  f"pixels of a stream decoded on the other backend within 1: {worst_cross <= 1}."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    return 0 if ok_size and ok_psnr and worst_cross <= 1 else 1


if __name__ == "__main__":
    sys.exit(main())
