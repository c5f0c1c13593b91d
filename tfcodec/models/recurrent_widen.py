"""Widening a trained recurrent codec's decoder, keeping what it learnt.

The small recurrent models gain little from their last iterations: the decoder,
8 channels wide at full resolution, cannot draw the detail the later bits
describe. A wider decoder trained from scratch would cost as many steps again
as the model it replaces, so `widen_decoder` lays a trained model's weights out
for the same model with a wider decoder stem and wider decoder cells, such that
it first decodes exactly as before (Net2Net's "new units, zero outgoing
weights"):

- every old unit keeps its weights, and its weights from new units (new input
  channels, new hidden units) are zero, so old units compute what they did;
- new units get the fresh model's weights from every input, so they carry
  signal from the first step and their zero outgoing weights get gradient;
- depth-to-space interleaves a cell's units into the next layer's channels:
  with q = units / 4, unit b*q + c becomes channel c of sub-pixel b. The old
  unit b*q_old + c therefore moves to b*q_new + c, and the next layer's old
  input channels stay the first q_old.

The encoder, binarizer and probability net are untouched: with the same
reconstruction every iteration sees the same residual, so the bits are the same.

Weights are dicts keyed like a bundle's (``NNNN:layer/path``, in the model's
variable order); the two models' keys are paired by layer path.
"""

import dataclasses

import numpy as np

from tfcodec.models.grow import lay_kernel

_GATES = {"lstm": (4, 4), "gru": (3, 2), "resgru": (3, 2)}  # (input conv, hidden conv) blocks


def can_widen_decoder(source, target):
    """Whether `target` is `source` with a decoder stem and cells at least as wide
    (and some wider), every cell's width still a multiple of 4."""
    wider = dataclasses.replace(source, decoder_stem=target.decoder_stem,
                                decoder_units=target.decoder_units)
    widths = zip((source.decoder_stem,) + source.decoder_units,
                 (target.decoder_stem,) + target.decoder_units)
    return (wider == target and source != target and all(n >= o for o, n in widths)
            and all(u % 4 == 0 for u in target.decoder_units))


def _unit_map(old_units, new_units):
    """Where each old unit of a cell goes in the wider cell (see the module)."""
    q_old, q_new = old_units // 4, new_units // 4
    k = np.arange(old_units)
    return (k // q_old) * q_new + k % q_old


def _blocks(unit_map, new_units, blocks):
    """The map of a conv output holding `blocks` gates of `units` each."""
    return np.concatenate([g * new_units + unit_map for g in range(blocks)])


def _lay(old, new, in_map, out_map):
    """A kernel (k, k, in, out) or bias (out,) laid into the fresh `new`."""
    if old.ndim == 1:
        new[out_map] = old
        return new
    return lay_kernel(old, new, in_map, out_map)


def widen_decoder(weights, fresh, source, target):
    """`weights` of a recurrent model with config `source`, laid out for `target`
    (see `can_widen_decoder`). `fresh` is a freshly initialised target model's
    weights (bundle-keyed): the key order and everything new. Returns target-keyed weights."""
    if not can_widen_decoder(source, target):
        raise ValueError("the target must be the source with a wider decoder (cell widths "
                         "multiples of 4)")
    x_blocks, h_blocks = _GATES[source.cell]
    maps = {}   # layer path prefix -> (in_map, out_map) for kernels and biases
    stem_in = np.arange(source.bits)
    stem_out = np.arange(source.decoder_stem)
    maps["decoder_stem/"] = (stem_in, stem_out)
    cell_in = stem_out
    for i, (u_old, u_new) in enumerate(zip(source.decoder_units, target.decoder_units)):
        name = f"decoder_rnn{i + 1}"
        units = _unit_map(u_old, u_new)
        maps[f"{name}/{name}_x/"] = (cell_in, _blocks(units, u_new, x_blocks))
        if source.cell == "lstm":
            maps[f"{name}/{name}_h/"] = (units, _blocks(units, u_new, h_blocks))
        else:
            maps[f"{name}/{name}_hzr/"] = (units, _blocks(units, u_new, h_blocks))
            maps[f"{name}/{name}_hn/"] = (units, units)
            maps[f"{name}/{name}_o/"] = (cell_in, units)
        cell_in = np.arange(u_old // 4)   # the old channels after depth-to-space
    maps["decoder_out/"] = (cell_in, np.arange(3))

    old = {k.split(":", 1)[1]: np.asarray(v, np.float32) for k, v in weights.items()}
    out = {}
    for key in fresh:
        path = key.split(":", 1)[1]
        new = np.array(fresh[key], np.float32)
        if path not in old:
            raise ValueError(f"{path}: not in the source weights")
        prefix = next((p for p in maps if path.startswith(p)), None)
        if old[path].shape == new.shape:
            out[key] = old[path]
        elif prefix is None:
            raise ValueError(f"{path}: no rule to widen {old[path].shape} into {new.shape}")
        else:
            out[key] = _lay(old[path], new, *maps[prefix])
    return out
