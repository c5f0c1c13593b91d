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

    @property
    def channelwise(self):
        return bool(self.slice_hidden)


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
