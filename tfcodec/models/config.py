"""Model configurations of both families: the paper sizes for accelerator users, the small
sizes that train on a CPU, and the shipped models. No TensorFlow: the registry
(`tfcodec.models`) lists names and reads bundles without it."""

import dataclasses
import json
import math


class _JsonConfig:
    """A frozen dataclass config to and from JSON (a bundle's meta): lists come back as tuples."""

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, d):
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


@dataclasses.dataclass(frozen=True)
class HyperpriorConfig(_JsonConfig):
    """Everything that fixes a hyperprior model's architecture and rate range.

    `num_slices`/`slice_hidden` > 0 give the channel-wise autoregressive model
    of Minnen & Singh 2020; `predict_means` False gives Ballé 2018's scale-only
    hyperprior; True with one slice and no slice nets gives Minnen 2018's
    mean-scale hyperprior (without its spatial context model).
    """

    family: str
    num_filters: int
    latent_channels: int
    hyper_filters: int
    hyper_channels: int
    predict_means: bool = True
    num_slices: int = 1
    slice_hidden: tuple = ()
    gain_levels: int = 8
    lambda_min: float = 0.0015
    lambda_max: float = 0.15
    layout: str = "tfcodec"
    gdn: str = "classic"      # or "simplified": TFC's default GDN, for models imported from it

    def __post_init__(self):
        if self.layout not in LAYOUTS:
            raise ValueError(f"unknown layout {self.layout!r}: one of {', '.join(LAYOUTS)}")
        if self.gdn not in ("classic", "simplified"):
            raise ValueError(f"unknown GDN {self.gdn!r}: classic or simplified")
        if self.layout != "tfcodec" and self.channelwise:
            raise ValueError(f"the {self.layout} layout has no channel-wise model")

    @property
    def channelwise(self):
        return bool(self.slice_hidden)

    @property
    def fixed_rate(self):
        """One rate point (an imported model: its lambda), whatever the quality."""
        return self.lambda_min == self.lambda_max

    # What the layout fixes (see LAYOUTS).

    @property
    def centered_convs(self):
        """Convolutions padded by kernel // 2 on each side (PyTorch's and TFC's alignment),
        not TensorFlow's 'same' (which pads a stride-2 layer 1 before and 2 after)."""
        return self.layout != "tfcodec"

    @property
    def hyper_input_abs(self):
        """The scale hyperprior's hyper-analysis sees |y| (Ballé 2018) in both references."""
        return self.layout != "tfcodec" and not self.predict_means

    @property
    def hyper_activation(self):
        return "leaky_relu" if self.layout == "compressai" and self.predict_means else "relu"

    @property
    def linear_scales(self):
        """The hyper-synthesis gives scales themselves (CompressAI, bounded below by
        SCALE_MIN), not log-scales (tfcodec; TFC's scale indexes, an affine map of
        the log-scale, are folded into its last layer on import)."""
        return self.layout == "compressai"

    @property
    def log_space_rate(self):
        """Training takes the rate as TFC does: log-likelihoods computed in log space, with no
        floor (`densities.gaussian_log_likelihood`, `DeepFactorized.log_likelihood`). tfcodec's
        own models floor each bin's likelihood at 1e-9 before the log, as CompressAI does: a
        little faster, and the same wherever a bin has more than 1e-9 of the mass. Early in
        training, far from it, the two objectives differ (docs/training.md, *Bounds in the rate*),
        so models in TFC's layout train on TFC's, step for step."""
        return self.layout == "tfc"

    @property
    def tfc_gaussian_coding(self):
        """Latents are coded as TFC codes them: with TFC's tables (tail mass 2^-8, 12-bit
        precision; `tables.tfc_gaussian_tables`) and the row of the largest table scale at
        or below the predicted scale (TFC's compress() casts the continuous scale index to
        an integer), not tfcodec's 16-bit tables and the smallest scale at or above it.
        Both travel in the coding arrays, so every runtime follows them."""
        return self.layout == "tfc"

    @property
    def z_offsets(self):
        """z is quantised around a per-channel offset (CompressAI's entropy-bottleneck
        medians, TFC's quantization offsets) rather than the integers."""
        return self.layout != "tfcodec"

    @property
    def prior_filters(self):
        """Hidden widths of the hyper-latent's deep factorized density."""
        return {"compressai": (3, 3, 3, 3), "tfc": (3, 3)}.get(self.layout, (3, 3, 3))


# Where a hyperprior model's layers come from: "tfcodec" (ours: TensorFlow's 'same'
# padding, a sub-pixel hyper-synthesis, log-scales) or the layout of a model imported
# from CompressAI or tensorflow-compression (TFC), computed exactly as there:
# `tfcodec import-weights` and docs/interop.md.
LAYOUTS = ("tfcodec", "compressai", "tfc")

HYPERPRIOR_CONFIGS = {
    # Paper sizes (Ballé 2018: N=128 low rates / 192 high; Minnen 2018: 192/320;
    # Minnen & Singh 2020: M=320 in 10 slices).
    "bmshj2018": HyperpriorConfig("bmshj2018", 192, 320, 192, 192, predict_means=False),
    "mbt2018-mean": HyperpriorConfig("mbt2018-mean", 192, 320, 192, 192),
    "cw2020": HyperpriorConfig("cw2020", 192, 320, 192, 192, num_slices=10, slice_hidden=(224, 128)),
    # Small sizes that train on one CPU in hours.
    "bmshj2018-small": HyperpriorConfig("bmshj2018", 64, 128, 64, 64, predict_means=False),
    "mbt2018-mean-small": HyperpriorConfig("mbt2018-mean", 64, 128, 64, 64),
    "cw2020-small": HyperpriorConfig("cw2020", 64, 128, 64, 64, num_slices=4, slice_hidden=(96, 64)),
}

# CompressAI's zoo sizes (compressai.zoo's cfgs): (N, M) per quality, and the lambda each
# quality was trained with (MSE). Imports of zoo checkpoints use these names.
COMPRESSAI_LAMBDAS = {1: 0.0018, 2: 0.0035, 3: 0.0067, 4: 0.0130, 5: 0.0250, 6: 0.0483, 7: 0.0932, 8: 0.1800}
COMPRESSAI_ARCHS = {"bmshj2018-hyperprior": ("bmshj2018", False, 5), "mbt2018-mean": ("mbt2018-mean", True, 4)}


def compressai_config(arch, num_filters, latent_channels, lmbda):
    """A CompressAI model's config: bmshj2018-hyperprior (scale) or mbt2018-mean."""
    family, means, _ = COMPRESSAI_ARCHS[arch]
    return HyperpriorConfig(family, num_filters, latent_channels, num_filters, num_filters,
                            predict_means=means, gain_levels=2, lambda_min=lmbda, lambda_max=lmbda,
                            layout="compressai")


for _arch, (_, _, _last_small) in COMPRESSAI_ARCHS.items():
    for _q, _lmbda in COMPRESSAI_LAMBDAS.items():
        _n, _m = (128, 192) if _q <= _last_small else (192, 320)
        HYPERPRIOR_CONFIGS[f"compressai-{_arch}-q{_q}"] = compressai_config(_arch, _n, _m, _lmbda)

# Shipped (the default model): cw2020-small over a wider rate range, 0.055 to 1.5 bpp on
# Kodak: cw2020-small's lambda spacing per gain level (a factor 1.93) with three levels
# more below and two more above, 13 in all. How it was trained: docs/history.md.
_STEP = math.log(0.15 / 0.0015) / 7
HYPERPRIOR_CONFIGS["cw2020-small-full-range"] = dataclasses.replace(
    HYPERPRIOR_CONFIGS["cw2020-small"], gain_levels=13, lambda_min=0.0015 * math.exp(-3 * _STEP),
    lambda_max=0.15 * math.exp(2 * _STEP))


# Downsampling of the recurrent models: images are padded to a multiple of this.
RECURRENT_STRIDE = 16


@dataclasses.dataclass(frozen=True)
class RecurrentConfig(_JsonConfig):
    """Everything that fixes a recurrent model's architecture."""

    cell: str = "gru"                 # "lstm", "gru" or "resgru"
    reconstruction: str = "oneshot"   # "oneshot" (gamma = 0) or "additive" (gamma = 1)
    iterations: int = 16              # iterations trained and the most a stream holds
    bits: int = 32                    # bits per H/16 x W/16 position and iteration
    stem_filters: int = 64            # encoder's first (strided) convolution
    encoder_units: tuple = (256, 512, 512)
    encoder_hidden_kernel: tuple = (1, 1, 1)
    decoder_stem: int = 512           # 1x1 convolution on the bits
    decoder_units: tuple = (512, 512, 256, 128)
    decoder_hidden_kernel: tuple = (1, 1, 3, 3)
    prob_hidden: tuple = (128, 128)   # widths of the bit-probability net
    ce_weight: float = 0.01           # weight of its cross-entropy (bits per pixel) in the loss
    distortion: str = "l1"            # training objective per iteration: "l1" or "msssim"
    iteration_weights: tuple = ()     # each iteration's share of the distortion; () = all 1

    def __post_init__(self):
        if self.cell not in ("lstm", "gru", "resgru"):
            raise ValueError(f"unknown cell {self.cell!r}: lstm, gru or resgru")
        if self.reconstruction not in ("oneshot", "additive"):
            raise ValueError(f"unknown reconstruction {self.reconstruction!r}: oneshot or additive")
        if len(self.encoder_units) != 3 or len(self.decoder_units) != 4:
            raise ValueError("the encoder has 3 recurrent layers and the decoder 4 (H/16 and back)")
        if not 1 <= self.iterations <= 64:
            raise ValueError("iterations must be in 1..64")
        if self.distortion not in ("l1", "msssim"):
            raise ValueError(f"unknown distortion {self.distortion!r}: l1 or msssim")
        if self.iteration_weights and (len(self.iteration_weights) != self.iterations
                                       or min(self.iteration_weights) < 0):
            raise ValueError(f"iteration_weights needs {self.iterations} weights >= 0")

    @property
    def context_channels(self):
        """Input planes of the probability net: past bits, anchors, iteration one-hot, pass flag."""
        return (self.iterations - 1) * self.bits + self.bits + self.iterations + 1


# Small sizes that train on a CPU: the paper's depth and strides, fewer units.
_SMALL = dict(iterations=8, stem_filters=32, encoder_units=(64, 128, 128), decoder_stem=128,
              decoder_units=(128, 128, 64, 32), prob_hidden=(64, 64))
RECURRENT_CONFIGS = {
    # Paper sizes (Toderici et al. 2017, fig. 1): 16 iterations of 32 bits per 16x16 block.
    "rnn-lstm": RecurrentConfig(cell="lstm", reconstruction="additive"),
    "rnn-gru": RecurrentConfig(cell="gru"),
    "rnn-resgru": RecurrentConfig(cell="resgru"),
    "rnn-lstm-small": RecurrentConfig(cell="lstm", reconstruction="additive", **_SMALL),
    "rnn-gru-small": RecurrentConfig(cell="gru", **_SMALL),
    "rnn-resgru-small": RecurrentConfig(cell="resgru", **_SMALL),
}

# Shipped: rnn-gru-small trained for MS-SSIM in dB at every iteration
# (`losses.msssim_log_loss`), the later iterations weighted up (0.4 rising to 1.6, mean 1).
# How it was trained: docs/history.md.
RECURRENT_CONFIGS["rnn-gru-small-msssim-late"] = dataclasses.replace(
    RECURRENT_CONFIGS["rnn-gru-small"], distortion="msssim",
    iteration_weights=tuple(round(0.4 + 1.2 * t / 7, 4) for t in range(8)))


@dataclasses.dataclass(frozen=True)
class JpegRefineConfig(_JsonConfig):
    """Everything that fixes a JPEG refiner's architecture (`tfcodec.models.jpeg_refine`)."""

    filters: int = 48             # channels at half resolution (the trunk and the cell)
    trunk_blocks: int = 2         # residual blocks at half resolution before the cell
    coarse_blocks: int = 2        # residual blocks at quarter resolution (the wide view)
    iterations: int = 3           # refinement steps trained; a decode may stop earlier
    quality_min: int = 5          # libjpeg qualities drawn in training: the range cameras and
    quality_max: int = 95         # the web use (trained to 75 at first, it lost up to 0.6 dB at 95)
    iteration_weights: tuple = ()  # each step's share of the loss; () = all 1

    def __post_init__(self):
        if not 1 <= self.iterations <= 8:
            raise ValueError("iterations must be in 1..8")
        if not 1 <= self.quality_min <= self.quality_max <= 100:
            raise ValueError("JPEG qualities must satisfy 1 <= quality_min <= quality_max <= 100")
        if self.iteration_weights and len(self.iteration_weights) != self.iterations:
            raise ValueError(f"iteration_weights needs {self.iterations} weights")


# Images are padded to a multiple of this (two space-to-depth steps of 2, and whole
# 4:2:0 MCUs, so the block grid keeps its phase).
JPEG_REFINE_STRIDE = 16

JPEG_REFINE_CONFIGS = {
    # Sized for 2 CPU cores: about 2 s per Kodak image at three iterations.
    "jpeg-refine-small": JpegRefineConfig(),
    "jpeg-refine": JpegRefineConfig(filters=96, trunk_blocks=4, coarse_blocks=4),
}
