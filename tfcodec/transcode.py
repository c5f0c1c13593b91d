"""The file side of compress/decompress, shared by `tfcodec compress|decompress|enhance` and `tfcodec edge`.

Any codec with `name`, `compress(rgb, setting)`, `compress_for_bpp(rgb, bpp)`
and `decompress(data)` goes through the same steps: refuse to overwrite the
input, read, time the codec alone, write atomically, make one summary line.

One file (`IN OUT`), or a batch (`IN... --out-dir DIR`): the model is loaded
once, a progress bar counts the files, and a bad file is named and skipped
(the exit status is then 1). Two files are in flight at a time: one is read
and decoded, or encoded and written, while the other is coded. The codec runs
one file at a time (a lock): TensorFlow already spreads a transform over the
cores, and neither a LiteRT interpreter nor the recurrent codec's pipeline may
be entered by two threads at once.
numpy and Pillow only: the edge runtime uses it without TensorFlow.
"""

import concurrent.futures
import contextlib
import os
import sys
import threading
import time

from tfcodec import fileio
from tfcodec.errors import FormatError
from tfcodec.fileio import check_not_input, read_image, read_stream, write_atomic, write_image

BATCH_WORKERS = 2


def add_file_arguments(parser, inputs, output_extension):
    """The FILE... positionals and --out-dir of a compress or decompress command."""
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help=f"IN OUT: one {inputs} and the file to write (atomically); with --out-dir, "
                             f"any number of {inputs}s")
    parser.add_argument("--out-dir", metavar="DIR",
                        help=f"batch mode: write each FILE's output to DIR as NAME{output_extension} (DIR is "
                             "created if missing); the model loads once, two files are coded at a time, a "
                             "progress bar counts them, and a file that fails is named and skipped (exit status 1)")
    parser.set_defaults(output_extension=output_extension)


def add_backend_argument(parser):
    """--backend of `compress` and `decompress` (tfcodec.api.BACKENDS)."""
    parser.add_argument(
        "--backend", choices=("auto", "litert", "tf"), default="auto",
        help="what runs the transforms: 'litert' (float LiteRT models, no TensorFlow; shipped with the "
             "shipped hyperprior models, exported once into a cache for other hyperprior weights), 'tf' "
             "(Keras; needed for --refine and the recurrent models), or 'auto': litert where its models "
             "exist, else tf. Streams from either decode on the other (default: %(default)s)")


def file_pairs(args):
    """The (input, output) pairs a command line asks for, checked before any work."""
    if args.out_dir is None:
        if len(args.files) != 2:
            raise FormatError(f"give IN OUT, or any number of inputs with --out-dir DIR ({len(args.files)} "
                              "paths given without --out-dir)")
        return [tuple(args.files)]
    pairs, taken = [], {}
    for path in args.files:
        name = os.path.splitext(os.path.basename(path))[0] + args.output_extension
        if name in taken:
            raise FormatError(f"{taken[name]} and {path} would both be written to {name} in {args.out_dir}")
        taken[name] = path
        pairs.append((path, fileio.join(args.out_dir, name)))
    fileio.makedirs(args.out_dir)
    return pairs


def compress_file(codec, path, output, label, setting=None, bpp=None, lock=None):
    """Image file `path` -> .tfc file `output`, at `setting` or at `bpp`; the summary line.
    `lock`, if given, is held while the codec runs."""
    check_not_input(output, path)
    rgb = read_image(path)
    if bpp is not None and bpp <= 0:
        raise FormatError("--bpp must be positive")

    def code():
        if bpp is not None:
            return codec.compress_for_bpp(rgb, bpp)
        return codec.compress(rgb, setting) if setting is not None else codec.compress(rgb)

    data, seconds = _timed(code, lock)
    write_atomic(output, data)
    h, w = rgb.shape[:2]
    return (f"{os.path.basename(path)} {w}x{h} -> {output}: {len(data)} bytes, "
            f"{len(data) * 8 / (h * w):.4f} bpp ({label}, {seconds:.2f} s)")


def decompress_file(codec_for, path, output, label_for, lock=None):
    """.tfc file `path` -> image file `output`; codec_for(data) picks the codec; the summary line.
    `lock`, if given, is held while the codec is chosen and runs."""
    check_not_input(output, path)
    data = read_stream(path)
    with lock or contextlib.nullcontext():
        codec = codec_for(data)
    rgb, seconds = _timed(lambda: codec.decompress(data), lock)
    write_image(output, rgb)
    h, w = rgb.shape[:2]
    return (f"{path} -> {output}: {w}x{h}, {len(data) * 8 / (h * w):.4f} bpp "
            f"({label_for(codec)}, {seconds:.2f} s)")


def enhance_file(refiner, path, output, iterations=None, lock=None):
    """JPEG file `path` -> refined image file `output` (`tfcodec enhance`); the summary line.
    The output is turned upright as the file's EXIF orientation says (the refiner works on
    the stored pixel grid, where the 8x8 blocks are)."""
    check_not_input(output, path)
    data = read_stream(path)
    rgb, seconds = _timed(lambda: refiner.enhance(data, iterations, path), lock)
    write_image(output, _upright(rgb, data))
    h, w = rgb.shape[:2]
    steps = refiner.steps(iterations)
    return (f"{path} -> {output}: {w}x{h}, {len(data) * 8 / (h * w):.4f} bpp JPEG, {steps} "
            f"step{'s' * (steps > 1)} ({refiner.name}, {seconds:.2f} s)")


def _upright(rgb, data):
    """Pixels turned as the JPEG's EXIF orientation tag says (none: unchanged)."""
    import io

    import numpy as np
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as original:
        orientation = original.getexif().get(0x0112, 1)
    if orientation in (None, 1):
        return rgb
    image = Image.fromarray(rgb)
    image.getexif()[0x0112] = orientation
    return np.asarray(ImageOps.exif_transpose(image))


def _timed(code, lock=None):
    """(code(), its seconds) under `lock`: the codec alone, without file I/O or waiting."""
    with lock or contextlib.nullcontext():
        start = time.perf_counter()
        result = code()
        return result, time.perf_counter() - start


def run_files(pairs, job, batch, quiet=False):
    """Runs job(input, output, lock) -> summary line for every pair; the exit status.

    Not a batch (IN OUT): a failure propagates, to be reported as the command's
    one-line error. A batch: BATCH_WORKERS files at a time under a progress bar,
    each failure named on stderr while the rest go on; the status is 1 if any failed.
    """
    if not batch:
        line = job(*pairs[0], None)
        if not quiet:
            print(line)
        return 0
    from tqdm import tqdm

    lock, failed = threading.Lock(), []
    with concurrent.futures.ThreadPoolExecutor(BATCH_WORKERS) as pool, \
            tqdm(total=len(pairs), unit="file", disable=quiet, file=sys.stderr) as bar:
        futures = {pool.submit(job, path, output, lock): path for path, output in pairs}
        for future in concurrent.futures.as_completed(futures):
            path = futures[future]
            try:
                line = future.result()
            except (FormatError, OSError, ValueError) as e:
                failed.append(path)
                bar.write(f"{path}: error: {e}", file=sys.stderr)
            else:
                if not quiet:
                    bar.write(line)
            bar.update(1)
    if failed:
        print(f"{len(failed)} of {len(pairs)} files failed: {', '.join(sorted(failed))}", file=sys.stderr)
    return 1 if failed else 0
