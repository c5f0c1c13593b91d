"""CompressAI's bmshj2018-hyperprior and mbt2018-mean -> tfcodec models that compute them exactly.

A CompressAI state dict (a zoo file, or the checkpoint its training example
saves: `torch_checkpoint.state_dict` unwraps both) maps one to one onto a
tfcodec model of the "compressai" layout (`HyperpriorConfig.layout`), whose
layers are CompressAI's own:

* `conv`/`deconv`: PyTorch's Conv2d(k, s, padding=k//2) and ConvTranspose2d(...,
  output_padding=1) as `CenteredConv2D`/`CenteredConv2DTranspose`; kernels
  (out, in, kh, kw) and (in, out, kh, kw) both become Keras's (kh, kw, ...);
* GDN: CompressAI stores beta and gamma reparameterised (x = max(p, bound)^2 -
  2^-36); the values are computed, gamma transposed (CompressAI's gamma[i, j]
  weighs x_j^2 in channel i's norm, tfcodec's kernel is (in, out)) and stored
  in tfcodec's parameterisation;
* the entropy bottleneck: its density's matrices, biases and factors as they
  are (the same deep factorized density, four hidden layers), its medians
  (quantiles[:, 0, 1]) as z's bin centres;
* the Gaussian conditional: CompressAI's scale table is tfcodec's (64 scales,
  0.11 to 256) and picks the row the same way; mbt2018-mean's hyper-synthesis
  gives scales then means, tfcodec's means then scales: its last layer's
  outputs are swapped.
"""

import re

import numpy as np

from tfcodec.errors import FormatError
from tfcodec.importers.bundle import assign, assign_gdn
from tfcodec.models.config import COMPRESSAI_ARCHS, COMPRESSAI_LAMBDAS, compressai_config

def _key(key):
    """A state-dict key in one spelling: DataParallel's `module.` dropped, the entropy
    bottleneck's parameter lists (`_matrices.0`, `_matrix0`, `matrices.0`) as `matrices.0`."""
    key = key[len("module."):] if key.startswith("module.") else key
    match = re.fullmatch(r"entropy_bottleneck\._?(matrix|matrices|bias|biases|factor|factors)\.?(\d+)", key)
    if match:
        stem = {"matrix": "matrices", "bias": "biases", "factor": "factors"}.get(match.group(1), match.group(1))
        return f"entropy_bottleneck.{stem}.{match.group(2)}"
    return key


def sizes(state):
    """(N, M) of a state dict's model."""
    try:
        return int(state["g_a.0.weight"].shape[0]), int(state["g_a.6.weight"].shape[0])
    except KeyError:
        raise FormatError("not a CompressAI bmshj2018-hyperprior or mbt2018-mean state dict "
                          "(no g_a.0.weight / g_a.6.weight)") from None


class _State:
    """A state dict, its arrays taken by key with clear errors, every key accounted for."""

    def __init__(self, state, arch):
        self.arrays = {_key(k): np.asarray(v) for k, v in state.items()}
        self.arch = arch
        self.used = set()

    def __call__(self, key, shape=None):
        if key not in self.arrays:
            raise FormatError(f"the checkpoint has no {key}: not a CompressAI {self.arch} model")
        value = self.arrays[key].astype(np.float32)
        if shape is not None and value.shape != tuple(shape):
            raise FormatError(f"{key} has shape {value.shape}, a CompressAI {self.arch} model "
                              f"of these sizes has {tuple(shape)}")
        self.used.add(key)
        return value

    def unused_parameters(self):
        # Buffers CompressAI derives (CDFs, offsets, the scale table) are rebuilt here.
        derived = ("_quantized_cdf", "_offset", "_cdf_length", "scale_table", "scale_bound", "target",
                   "pedestal", "lower_bound", "likelihood_lower_bound")
        return sorted(k for k in self.arrays if k not in self.used and not any(d in k for d in derived))


def _load_sequential(sequential, get, prefix, torch_indices, last_swap=None):
    """The conv layers of a Keras Sequential from CompressAI's module `prefix`, in order;
    GDN layers from the modules between them."""
    import keras

    from tfcodec.layers import GDN

    convs = [l for l in sequential.layers if isinstance(l, (keras.layers.Conv2D, keras.layers.Conv2DTranspose))]
    gdns = [l for l in sequential.layers if isinstance(l, GDN)]
    for n, (layer, index) in enumerate(zip(convs, torch_indices)):
        kernel = get(f"{prefix}.{index}.weight").transpose(2, 3, 1, 0)
        bias = get(f"{prefix}.{index}.bias")
        if n == len(convs) - 1 and last_swap:  # (scales, means) -> (means, scales)
            kernel, bias = np.roll(kernel, last_swap, axis=-1), np.roll(bias, last_swap)
        assign(layer.kernel, kernel, f"{prefix}.{index}.weight")
        assign(layer.bias, bias, f"{prefix}.{index}.bias")
    for layer, index in zip(gdns, [i + 1 for i in torch_indices]):
        assign_gdn(layer, get(f"{prefix}.{index}.beta"), get(f"{prefix}.{index}.gamma"), f"{prefix}.{index}",
                   transpose_gamma=True)


def model_from_state_dict(state, arch, quality):
    """(model name, built Keras model holding the state dict's weights)."""
    from tfcodec.models import hyperprior

    if arch not in COMPRESSAI_ARCHS:
        raise FormatError(f"unknown CompressAI architecture {arch!r}: one of {', '.join(COMPRESSAI_ARCHS)}")
    if quality not in COMPRESSAI_LAMBDAS:
        raise FormatError(f"CompressAI qualities are 1 to 8, not {quality}")
    n, m = sizes(state)
    config = compressai_config(arch, n, m, COMPRESSAI_LAMBDAS[quality])
    name = f"compressai-{arch}-q{quality}"
    from tfcodec.models.config import HYPERPRIOR_CONFIGS

    if HYPERPRIOR_CONFIGS[name] != config:  # trained at other sizes: still importable
        name = f"compressai-{arch}-q{quality}-n{n}-m{m}"
    model = hyperprior.build(name, config)
    get = _State(state, arch)
    _load_sequential(model.analysis, get, "g_a", (0, 2, 4, 6))
    _load_sequential(model.synthesis, get, "g_s", (0, 2, 4, 6))
    _load_sequential(model.hyper_analysis, get, "h_a", (0, 2, 4))
    _load_sequential(model.hyper_synthesis, get, "h_s", (0, 2, 4), last_swap=m if config.predict_means else 0)
    prior = model.hyper_prior
    for i, matrix in enumerate(prior.matrices):
        assign(matrix, get(f"entropy_bottleneck.matrices.{i}"), f"entropy_bottleneck matrix {i}")
        assign(prior.biases[i], get(f"entropy_bottleneck.biases.{i}"), f"entropy_bottleneck bias {i}")
        if i < len(prior.factors):
            assign(prior.factors[i], get(f"entropy_bottleneck.factors.{i}"), f"entropy_bottleneck factor {i}")
    assign(model.z_offset, get("entropy_bottleneck.quantiles", (n, 1, 3))[:, 0, 1], "medians")
    for table in (model.gains.log_gain, model.gains.log_inverse_gain):
        table.assign(np.zeros(table.shape, np.float32))  # CompressAI has no gains
    extra = get.unused_parameters()
    if extra:
        raise FormatError(f"the checkpoint has parameters a CompressAI {arch} model has not: "
                          f"{', '.join(extra[:5])}{' ...' if len(extra) > 5 else ''} (another architecture?)")
    return name, model
