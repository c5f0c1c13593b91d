"""Growing a trained hyperprior model (its latent, or its transforms' width), keeping
what it learnt.

On a CPU budget, a larger latent trained from scratch would take as many steps
again as the model it replaces. The shipped small model's top qualities sit at
its transform's ceiling with every one of its M latent channels in use, so the
next model needs more of them. `grow_latent` lays a trained model's weights out
for the same model with more latent channels (in whole slices of the same size),
such that the old slices are coded as before and the new channels start in
use:

- the analysis's last convolution keeps the old channels' filters; the new ones
  keep the fresh model's random filters, so the new channels carry signal from
  the first step. They must: a first attempt started them at zero with the
  smallest scale (a grown model coding exactly as the old one), and after 5,000
  steps not one new channel had a nonzero symbol. At the smallest scale any
  nonzero value costs many bits before the synthesis has learnt to use it, so
  the rate term holds the channels at zero for good;
- the synthesis's weights from the new channels are the fresh ones scaled by
  `NEW_SYNTHESIS_SCALE`: small enough that the reconstruction starts close to
  the old model's, not zero, so that gradient flows both ways at once;
- the hyper-analysis ignores the new channels (zero weights), the hyper-synthesis's
  mean and scale features for them start at zero, and the old slices' parameter
  nets ignore the new features: the old slices' means, scales and symbols are
  exactly the old model's;
- the new slices' parameter nets are fresh, and the new channels' gains are the
  old channels' mean at each level.

Weights are dicts keyed like a bundle's (``NNNN:layer/path``, in the model's
variable order); the keys of the two models differ, so arrays are paired by
layer path and occurrence.
"""

import dataclasses

import numpy as np

from tfcodec.models.gains import RATE_RANGE_FIELDS

NEW_SYNTHESIS_SCALE = 0.1   # the synthesis weights from new channels, against a fresh initialisation


def can_grow(source, target):
    """Whether `target` is `source` with more latent channels in more slices of the same size."""
    if not (source.channelwise and target.channelwise):
        return False
    same_slices = (source.latent_channels // source.num_slices
                   == target.latent_channels // target.num_slices)
    rest = dataclasses.replace(target, latent_channels=source.latent_channels,
                               num_slices=source.num_slices,
                               **{k: getattr(source, k) for k in RATE_RANGE_FIELDS})
    return same_slices and target.latent_channels > source.latent_channels and rest == source


def _path(key):
    return key.split(":", 1)[1]


def _by_path(weights):
    """{path: [arrays in variable order]} for a bundle-keyed dict."""
    out = {}
    for key in sorted(weights):
        out.setdefault(_path(key), []).append(np.asarray(weights[key], np.float32))
    return out


def grow_latent(weights, fresh, source, target):
    """`weights` of a model with config `source`, laid out for `target` (see `can_grow`).

    `fresh` is a freshly initialised target model's weights (bundle-keyed): it gives
    the key order and the initial values of everything new. Returns target-keyed weights.
    """
    if not can_grow(source, target):
        raise ValueError("the target must be the source with more latent channels in "
                         "slices of the same size")
    m_old, m_new = source.latent_channels, target.latent_channels
    out = {}
    for key, path, old, new in _paired(weights, fresh):
        # a new slice's parameter net (no old array): fresh
        out[key] = new if old is None else _transfer(old, new, path, m_old, m_new)
    return out


def _paired(weights, fresh):
    """(key, layer path, the source's array or None, the fresh array) for each key of
    `fresh`, in order; arrays are paired by layer path and occurrence."""
    old = _by_path(weights)
    seen = {}
    for key in sorted(fresh):
        path = _path(key)
        n = seen.get(path, 0)
        seen[path] = n + 1
        olds = old.get(path, [])
        yield key, path, olds[n] if n < len(olds) else None, np.array(fresh[key], np.float32)


def _transfer(old, new, path, m_old, m_new):
    """One array of the source laid into the fresh target array `new`."""
    if path.startswith("gains/"):
        # (levels, M): new channels get the mean gain. The source's levels are kept
        # (a different rate range is laid out afterwards: `gains.adapt_gain_table`).
        grown = np.empty((old.shape[0], m_new), np.float32)
        grown[:, :m_old] = old
        grown[:, m_old:] = old.mean(axis=1, keepdims=True)
        return grown
    if old.shape == new.shape:
        return old
    if path.startswith("analysis/"):            # last conv: (k, k, N, M) and its bias (M,)
        if old.ndim == 1:
            new[:m_old], new[m_old:] = old, 0.0
        else:
            new[..., :m_old] = old
        return new
    if path.startswith("synthesis/"):           # conv-transpose kernel (k, k, N, M): M is its input
        new[..., m_old:] *= NEW_SYNTHESIS_SCALE
        new[..., :m_old] = old
        return new
    if path.startswith("hyper_analysis/"):      # first conv (k, k, M, Nh)
        new[...] = 0.0
        new[:, :, :m_old] = old
        return new
    if path.startswith("hyper_synthesis/"):     # last conv: [mean features | scale features], M each
        new[...] = 0.0
        new[..., :m_old] = old[..., :m_old]
        new[..., m_new:m_new + m_old] = old[..., m_old:]
        return new
    if old.ndim == 4 and old.shape[3] == new.shape[3]:
        # A slice net's first conv: input [features (M), decoded slices]; the new
        # features are ignored, the decoded slices move up by the new channels.
        new[...] = 0.0
        new[:, :, :m_old] = old[:, :, :m_old]
        rest = old.shape[2] - m_old
        new[:, :, m_new:m_new + rest] = old[:, :, m_old:]
        return new
    raise ValueError(f"{path}: no rule to grow {old.shape} into {new.shape}")


# -- wider transforms ----------------------------------------------------------
#
# Growing the latent did not raise the ceiling: trained on, the 64 new channels of
# the M=192 model fell silent (no nonzero symbol at any quality after 4,600 steps)
# and its unquantised autoencoder stayed at the M=128 model's 30.5 dB on the tune
# photos. The limit is the transforms' width N. `widen_transforms` lays a trained
# model out for a larger N, with the usual function-preserving rule (Net2Net's
# "new units, zero outgoing weights"): the new units of the analysis and synthesis
# get fresh incoming filters and zero weights into the old units, and the GDNs no
# cross terms between old and new channels. The widened model computes exactly
# the old one's latent and reconstruction at first; the zero weights get gradient
# from the first step (the new units' activations are nonzero), so the new width
# comes into use without a rate penalty holding it back, unlike new latent channels.

_WIDENED = ("analysis/", "synthesis/")


def can_widen(source, target):
    """Whether `target` is `source` with wider analysis and synthesis transforms (N)."""
    rest = dataclasses.replace(target, num_filters=source.num_filters,
                               **{k: getattr(source, k) for k in RATE_RANGE_FIELDS})
    return target.num_filters > source.num_filters and rest == source


def widen_transforms(weights, fresh, source, target):
    """`weights` of a model with config `source`, laid out for `target` (see `can_widen`);
    `fresh` as in `grow_latent`. Returns target-keyed weights."""
    if not can_widen(source, target):
        raise ValueError("the target must be the source with a larger num_filters")
    n_old = source.num_filters
    out = {}
    for key, path, old, new in _paired(weights, fresh):
        if old is not None and old.shape == new.shape:
            out[key] = old
        elif old is not None and path.startswith(_WIDENED):
            out[key] = _widen(old, new, path, n_old)
        else:
            raise ValueError(f"{path}: no rule to widen {None if old is None else old.shape} "
                             f"into {new.shape}")
    return out


def _widen(old, new, path, n_old):
    """One analysis/synthesis array: the old block kept, new units fresh, nothing new
    feeding an old unit."""
    if path.endswith("/gamma"):
        # Stored reparameterised: the fresh off-diagonal entries are the stored form
        # of 0, so old and new channels do not normalise each other.
        new[:n_old, :n_old] = old
        return new
    if old.ndim == 1:                           # bias or GDN beta: (channels,)
        new[:n_old] = old
        return new
    # Kernels: Conv2D (k, k, in, out); Conv2DTranspose (k, k, out, in).
    in_axis, out_axis = (3, 2) if "conv2d_transpose" in path else (2, 3)
    return lay_kernel(old, new, np.arange(old.shape[in_axis]), np.arange(old.shape[out_axis]),
                      in_axis, out_axis)


def lay_kernel(old, new, in_map, out_map, in_axis=2, out_axis=3):
    """A trained kernel laid into the fresh, larger `new` (Net2Net's "new units,
    zero outgoing weights"): old input i and output o go to in_map[i] and
    out_map[o]; the weights from new inputs into old outputs become zero, so
    the old units compute what they did; new outputs keep their fresh weights."""
    new_view = np.moveaxis(new, (in_axis, out_axis), (-2, -1))
    old_view = np.moveaxis(old, (in_axis, out_axis), (-2, -1))
    fresh_in = np.setdiff1d(np.arange(new_view.shape[-2]), in_map)
    new_view[..., fresh_in[:, None], out_map[None, :]] = 0.0
    new_view[..., in_map[:, None], out_map[None, :]] = old_view
    return new
