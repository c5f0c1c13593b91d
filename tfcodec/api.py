"""The Python API: load a codec by name or weights path, compress, decompress.

    from tfcodec.api import load_codec
    codec = load_codec("default")           # or "rnn", a shipped name, or a .npz path
    data = codec.compress(rgb_uint8, 0.5)   # quality (hyperprior) / iterations (recurrent)
    rgb = codec.decompress(data)

Every codec has `name`, `identity` (weights hash), `rate_settings` (the sweep
an evaluation uses), `compress`, `decompress` and `compress_for_bpp`.
"""

import functools

from tfcodec import container
from tfcodec.errors import FormatError

DEFAULT_MODEL = "cw2020-small-full-range"
# The recurrent model to use when rate control by truncation matters: the one
# trained for MS-SSIM, which is what the recurrent family is judged on.
DEFAULT_RECURRENT_MODEL = "rnn-gru-small-msssim-late"
_ALIASES = {"default": DEFAULT_MODEL, "rnn": DEFAULT_RECURRENT_MODEL}


def load_codec(name_or_path="default", refine_steps=0):
    """`refine_steps` > 0 (hyperprior models): the encoder refines each image's
    latents by that many gradient steps, slower encoding for smaller files."""
    # Positional, so that load_codec(x) and load_codec(x, refine_steps=0) share one cached codec.
    return _load_codec(name_or_path, int(refine_steps))


@functools.lru_cache(maxsize=8)
def _load_codec(name_or_path, refine_steps):
    from tfcodec.weights import load_bundle, resolve

    bundle = load_bundle(resolve(_ALIASES.get(name_or_path, name_or_path)))
    family = bundle.meta.get("family")
    if family == "hyperprior":
        from tfcodec.codecs.hyperprior import HyperpriorCodec
        return HyperpriorCodec(bundle, refine_steps=refine_steps)
    if refine_steps:
        raise FormatError(f"{bundle.model}: latent refinement is for hyperprior models, "
                         f"not the {family} family")
    if family == "recurrent":
        from tfcodec.codecs.recurrent import RecurrentCoder
        return RecurrentCoder.from_bundle(bundle)
    raise FormatError(f"{bundle.path}: unknown model family {family!r}")


def codec_for_stream(data, model=None):
    """The codec that decodes `data`: --model if given, else the model the header names."""
    header, _ = container.unpack(data)
    return load_codec(model or header.model_id)
