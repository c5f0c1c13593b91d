"""Compress/decompress seconds per image for a shipped model, and where the time goes.

    python benchmarks/bench_codec.py [--data FOLDER] [--model default] [--quality 0.5] [--limit N]
                                     [--backend litert|tf]
    python benchmarks/bench_codec.py --model rnn-gru-small --iterations 8 [--data FOLDER]

Splits each side into its transforms (LiteRT by default, as `tfcodec compress`
runs them; `--backend tf` for Keras), the integer entropy-parameter nets and
the range coder, and prints ratios against Pillow's WebP and AVIF
(encode and decode of the same images, measured in the same run) as a
baseline a user would compare with. Defaults to the Kodak folder beside the
repo when it exists; any folder of images works. For a recurrent model
(`--iterations`, default: all of the model's) the split is the encoder RNN,
the decoder RNN (run by both sides: the encoder needs each reconstruction),
the integer probability net and the range coder; the bit coding runs on a
worker thread beside TensorFlow, so the parts overlap and add up to more
than the total. The first image is coded once before timing (graph
tracing, kernel set-up); that one-off cost is printed apart.
"""

import argparse
import io
import os
import statistics
import time

import numpy as np


def _timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


class _Clock:
    """Accumulates seconds spent in wrapped callables."""

    def __init__(self):
        self.seconds = {}

    def wrap(self, key, fn):
        def wrapped(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - start
        return wrapped


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_data = os.path.join(here, "..", "..", "shared", "data", "kodak")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=default_data)
    parser.add_argument("--model", default="default")
    parser.add_argument("--quality", type=float, default=0.5, help="hyperprior models")
    parser.add_argument("--iterations", type=int, default=None,
                        help="recurrent models (default: all of the model's)")
    parser.add_argument("--limit", type=int, default=8, help="images to time (default %(default)s)")
    parser.add_argument("--backend", choices=("litert", "tf"), default="litert",
                        help="hyperprior models: what runs the transforms (default: %(default)s, as the "
                             "tfcodec command does; recurrent models always run on tf)")
    args = parser.parse_args()

    from PIL import Image

    from tfcodec.api import load_codec
    from tfcodec.fileio import read_image
    from tfcodec.train.data import list_images

    files = list_images(args.data)[: args.limit]
    from tfcodec.models import bundle_family
    from tfcodec.weights import load_bundle, resolve

    recurrent = not bundle_family(load_bundle(resolve({"default": "cw2020-small-full-range"}.get(
        args.model, args.model)))).variable_rate
    codec = load_codec(args.model, backend="tf" if recurrent else args.backend)
    clock = _Clock()
    # Instrument the pieces (the same objects the codec calls).
    if codec.family == "recurrent":
        setting = args.iterations or codec.config.iterations
        keys = _instrument_recurrent(codec, clock)
        label = f"{setting} iterations"
    else:
        setting = args.quality
        keys = _instrument_hyperprior(codec, clock)
        label = f"quality {setting}"

    rgb0 = read_image(files[0])
    _, t_first = _timed(lambda: codec.decompress(codec.compress(rgb0, setting)))  # warm up (tracing)
    print(f"first compress + decompress (tracing, set-up): {t_first:.3f} s", flush=True)
    rows = []
    for path in files:
        rgb = read_image(path)
        clock.seconds.clear()
        data, t_enc = _timed(codec.compress, rgb, setting)
        enc_parts = dict(clock.seconds)
        clock.seconds.clear()
        _, t_dec = _timed(codec.decompress, data)
        dec_parts = dict(clock.seconds)
        image = Image.fromarray(rgb)
        base = {}
        for fmt, opts in (("WEBP", {"quality": 75}), ("AVIF", {"quality": 50})):
            buffer = io.BytesIO()
            _, t = _timed(lambda: image.save(buffer, format=fmt, **opts))
            _, u = _timed(lambda: Image.open(io.BytesIO(buffer.getvalue())).load())
            base[fmt] = (t, u)
        rows.append((os.path.basename(path), len(data) * 8 / rgb.shape[0] / rgb.shape[1],
                     t_enc, t_dec, enc_parts, dec_parts, base))
        print(f"{rows[-1][0]}: {rows[-1][1]:.3f} bpp, compress {t_enc:.3f} s, decompress {t_dec:.3f} s", flush=True)

    def mean(values):
        return statistics.fmean(values)

    enc, dec = mean([r[2] for r in rows]), mean([r[3] for r in rows])
    print(f"\nmodel {codec.name}, {label}, {len(rows)} images from {args.data}")
    print(f"{'':24s}{'compress s':>12s}{'decompress s':>14s}")
    print(f"{'total':24s}{enc:12.3f}{dec:14.3f}")
    for key in keys:
        e = mean([r[4].get(key, 0.0) for r in rows])
        d = mean([r[5].get(key, 0.0) for r in rows])
        print(f"{'  ' + key:24s}{e:12.3f}{d:14.3f}")
    other_e = enc - sum(mean([r[4].get(k, 0.0) for r in rows]) for k in keys)
    other_d = dec - sum(mean([r[5].get(k, 0.0) for r in rows]) for k in keys)
    if codec.family == "recurrent":
        # The parts run on two threads (TensorFlow beside the bit coding), so they
        # overlap: the rest is total minus parts, negative by the time overlapped.
        print(f"{'  rest minus overlap':24s}{other_e:12.3f}{other_d:14.3f}")
    else:
        print(f"{'  other (numpy glue)':24s}{other_e:12.3f}{other_d:14.3f}")
    for fmt in ("WEBP", "AVIF"):
        be, bd = mean([r[6][fmt][0] for r in rows]), mean([r[6][fmt][1] for r in rows])
        print(f"{'Pillow ' + fmt:24s}{be:12.3f}{bd:14.3f}   tfcodec/{fmt}: {enc / be:5.1f}x encode, "
              f"{dec / bd:5.1f}x decode")


def _instrument_hyperprior(codec, clock):
    from tfcodec import rangecoder
    from tfcodec.codecs import latent_coding

    from tfcodec.api import backend_name

    # The integer nets at the LatentCoder's calls: wall time, also where a slice's two nets
    # run on two threads at once.
    latents = codec.latents
    latents.features = clock.wrap("integer nets", latents.features)
    latents.slice_parameters = clock.wrap("integer nets", latents.slice_parameters)
    latent_coding.rangecoder = type("rc", (), {
        "encode_index": staticmethod(clock.wrap("range coder", rangecoder.encode_index)),
        "decode_index": staticmethod(clock.wrap("range coder", rangecoder.decode_index)),
    })
    backend = codec.backend
    name = backend_name(codec)
    if name == "litert":
        backend.analyse = clock.wrap("litert analysis", backend.analyse)
        backend.hyper_analyse = clock.wrap("litert analysis", backend.hyper_analyse)
        backend.lrp = clock.wrap("litert synthesis", backend.lrp)
        backend.synthesise = clock.wrap("litert synthesis", backend.synthesise)
    else:
        backend._analyse = clock.wrap("tf analysis", backend._analyse)
        backend._hyper_analyse = clock.wrap("tf analysis", backend._hyper_analyse)
        backend._synthesise = clock.wrap("tf synthesis", backend._synthesise)
    return (f"{name} analysis", "integer nets", "range coder", f"{name} synthesis")


def _instrument_recurrent(codec, clock):
    from tfcodec import rangecoder
    from tfcodec.codecs import recurrent

    # (On the CPU a TensorFlow call returns when its work is done.)
    codec._encode_step = clock.wrap("tf encoder rnn", codec._encode_step)
    codec._decode_step = clock.wrap("tf decoder rnn", codec._decode_step)
    coder = codec.coder
    coder._shared = clock.wrap("integer net", coder._shared)
    coder._bins = clock.wrap("integer net", coder._bins)
    recurrent.rangecoder = type("rc", (), {
        "encode_index": staticmethod(clock.wrap("range coder", rangecoder.encode_index)),
        "decode_index": staticmethod(clock.wrap("range coder", rangecoder.decode_index)),
    })
    return ("tf encoder rnn", "tf decoder rnn", "integer net", "range coder")


if __name__ == "__main__":
    main()
