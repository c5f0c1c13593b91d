"""Running a convolutional transform over overlapping tiles.

Why: an Edge TPU model takes one static input size, so a larger photo cannot go
through it whole; and a 12-megapixel photo through the TensorFlow analysis holds
about 5 GB of activations at once. Both need the transform run piece by piece.

A stack of "same"-padded convolutions and pointwise layers (GDN, ReLU, the
gains) is local: an output element depends on the input only within a bounded
distance, its receptive field. Cut the input into tiles that overlap by a halo
at least that wide, keep from each tile's output only its core, and the
stitched result is the output of the whole input, up to the order of
floating-point sums. Two more conditions make that hold:

- every tile starts on the transform's stride grid (`align`), so that its
  layers pad and subsample where the whole input's do;
- a tile side that lies on the input's border is that border, so the zero
  padding the layers see there is the whole input's.

Tiles are all `tile` long (a static model's size) unless the input is shorter;
the last ones are moved back to end at the input's end rather than padded.
Nothing here imports TensorFlow: the edge runtime uses it too.
"""

import dataclasses
from fractions import Fraction

import numpy as np


class TilingError(ValueError):
    """A tile too small for the halo its transform needs."""


@dataclasses.dataclass(frozen=True)
class Geometry:
    """How a transform maps its input grid to its output grid.

    `scale`: output elements per input element along each axis. `halo`: input
    elements of context each tile needs beyond its core, at least the
    receptive field's reach on either side. `align`: tile starts and core
    boundaries are multiples of this, the transform's total input stride.
    """

    scale: Fraction
    halo: int
    align: int

    def __post_init__(self):
        if (self.align * self.scale).denominator != 1:
            raise ValueError(f"align {self.align} does not map to whole outputs at scale {self.scale}")
        if self.halo % self.align:
            raise ValueError(f"halo {self.halo} is not a multiple of align {self.align}")


# The hyperprior family's transforms (`tfcodec.models.transforms`), each in units
# of its own input; tests/test_tiling.py checks each halo on the real layers.
# Analysis, four 5x5 stride-2 convolutions: an output block of 16 pixels reads
# 15 more on its left and 30 on its right.
ANALYSIS = Geometry(Fraction(1, 16), halo=32, align=16)
# Hyper-analysis, 3x3 then two 5x5 stride-2 convolutions: 4 latents left, 6 right.
HYPER_ANALYSIS = Geometry(Fraction(1, 4), halo=8, align=4)
# Synthesis, four 5x5 stride-2 transposed convolutions: under 2 latents each side.
SYNTHESIS = Geometry(Fraction(16), halo=2, align=1)


def parameter_net_geometry(hidden_layers):
    """A stride-1 stack of 3x3 convolutions (`transforms.parameter_net`, the LRP nets)."""
    return Geometry(Fraction(1), halo=hidden_layers + 1, align=1)


# Where no static size fixes it, a tile is at most this many pixels a side (latent
# transforms: the same area, 1/16 of it a side). Coding a 4000x3000 photo with the
# shipped default peaked at 4.9 GB (compress) and 4.7 GB (decompress) untiled,
# 3.5 / 2.6 GB with 2048-pixel tiles and 2.5 / 2.0 GB with 1024, in the same time;
# the rest is the process, the image and the latent-sized integer nets.
TILE_PIXELS = 1024


def hyperprior_geometry(role, config):
    """The Geometry of one of a hyperprior model's transforms, by its export role."""
    if role.startswith("lrp_"):
        return parameter_net_geometry(len(config.slice_hidden))
    return {"analysis": ANALYSIS, "hyper_analysis": HYPER_ANALYSIS, "synthesis": SYNTHESIS}[role]


def default_tile(role):
    """TILE_PIXELS in the units of a role's input: pixels for the analysis, latents
    (16 pixels each) for the others."""
    side = TILE_PIXELS if role == "analysis" else TILE_PIXELS // 16
    return (side, side)


def spans(length, tile, geometry):
    """Tiles along one axis: a list of (tile_start, tile_end, core_start, core_end).

    The cores partition [0, length); each tile holds its core plus at least
    `geometry.halo` elements on every side that is not the input's border.
    """
    align, halo = geometry.align, geometry.halo
    if length % align or tile % align:
        raise ValueError(f"length {length} and tile {tile} must be multiples of {align}")
    if length <= tile:
        return [(0, length, 0, length)]
    core = tile - 2 * halo
    if core < align:
        raise TilingError(f"a tile of {tile} leaves no core inside a halo of {halo} on each side")
    out = []
    start_core = 0
    while start_core < length:
        start = min(max(start_core - halo, 0), length - tile)
        end_core = length if start + tile == length else start_core + core
        if start == 0:  # no halo needed on the input's border
            end_core = min(tile - halo, length)
        out.append((start, start + tile, start_core, end_core))
        start_core = end_core
    return out


def run_tiled(fn, array, tile, geometry):
    """`fn(array)` computed tile by tile. `array` is (h, w, c); `fn` maps an
    (h', w', c) piece to (h' * scale, w' * scale, c') as numpy; `tile` is
    (rows, cols) in input elements. One tile (the input fits) is one plain call."""
    h, w = array.shape[:2]
    rows, cols = spans(h, tile[0], geometry), spans(w, tile[1], geometry)
    if len(rows) == 1 and len(cols) == 1:
        return np.asarray(fn(array))
    s = geometry.scale
    out = None
    for r0, r1, a0, a1 in rows:
        for c0, c1, b0, b1 in cols:
            part = np.asarray(fn(array[r0:r1, c0:c1]))
            if out is None:
                out = np.empty((int(h * s), int(w * s)) + part.shape[2:], part.dtype)
            out[int(a0 * s):int(a1 * s), int(b0 * s):int(b1 * s)] = \
                part[int((a0 - r0) * s):int((a1 - r0) * s), int((b0 - c0) * s):int((b1 - c0) * s)]
    return out
