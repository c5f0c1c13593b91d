"""Model configurations: the paper sizes for TPU users and small sizes we train here."""

import dataclasses
import json
import math


@dataclasses.dataclass(frozen=True)
class HyperpriorConfig:
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

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, d):
        d = dict(d)
        d["slice_hidden"] = tuple(d.get("slice_hidden", ()))
        return cls(**d)


CONFIGS = {
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

# cw2020-small over a wider rate range, reaching down to 0.1 bpp on Kodak (0.055 once
# trained on 256^2 crops, which lowered the rate at every level): the
# same lambda spacing per gain level (a factor 1.93), three more levels below.
# Not above: cw2020-small's top level is already at its transform's ceiling (the
# unquantised autoencoder reaches 30.5 dB on the tune photos, its q = 1 30.3 dB),
# so a higher lambda would buy bits, not quality. Trains from cw2020-small's
# weights, its gain tables re-laid by `gains.adapt_gain_table`.
_STEP = math.log(0.15 / 0.0015) / 7
CONFIGS["cw2020-small-wide-range"] = dataclasses.replace(
    CONFIGS["cw2020-small"], gain_levels=11, lambda_min=0.0015 * math.exp(-3 * _STEP))

# The same over a latent half as large again (M=192 in 6 slices of 32): at its
# top qualities cw2020-small uses all of its 128 channels (each > 50 % nonzero
# symbols) and its unquantised autoencoder is the limit. Starts from a trained
# M=128 model, grown by `grow.grow_latent` (the old slices coded as before).
CONFIGS["cw2020-small-m192"] = dataclasses.replace(
    CONFIGS["cw2020-small-wide-range"], latent_channels=192, num_slices=6)

# The wide-range model with transforms half as wide again (N=96): grown that way,
# the M=192 model's new channels fell silent and its ceiling stayed put, so the
# transforms' width is the limit. Starts from a trained N=64 model, widened by
# `grow.widen_transforms` (computing the old model's function at first).
CONFIGS["cw2020-small-n96"] = dataclasses.replace(CONFIGS["cw2020-small-wide-range"], num_filters=96)

# The wide-range model two levels higher (lambda up to 0.56, 13 levels, the
# same spacing): trained on 256^2 crops, its q = 1 sat at 1.20 bpp on Kodak,
# short of the 1.5 bpp the range should reach. Trains from the wide-range
# weights, the two new top rows of its gain tables extended from the old top.
CONFIGS["cw2020-small-full-range"] = dataclasses.replace(
    CONFIGS["cw2020-small-wide-range"], gain_levels=13, lambda_max=0.15 * math.exp(2 * _STEP))
