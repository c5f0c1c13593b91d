"""A tensorflow-compression (TFC) Ballé 2018 scale hyperprior -> a tfcodec model that computes it exactly.

TFC stopped at TensorFlow 2.14 and its layers do not run on Keras 3; its
checkpoints are plain TensorFlow checkpoints, so tfcodec reads them with
`tf.train.load_checkpoint` and no TFC. The layout is that of TFC's model
scripts (`models/bmshj2018.py`) and of benchmarks/tfc_model.py: a model with
`analysis_transform`, `synthesis_transform`, `hyper_analysis_transform`,
`hyper_synthesis_transform` (Sequentials of `SignalConv2D`, GDN as a layer or as
a convolution's activation) and `hyperprior` (a `NoisyDeepFactorized`). A
checkpoint prefix (`.../ckpt-1`), a folder holding checkpoints, or a SavedModel
folder (its `variables/`) all work. What each piece becomes (measured in the TFC
venv: tools/tfc_facts_conv.py, tools/tfc_facts_misc.py):

* `SignalConv2D` 'same_zeros': the centred alignment of `CenteredConv2D` (down)
  and `CenteredConv2DTranspose` (up), kernel (kh, kw, in, out) as stored, or
  from its RDFT parameterisation (TFC's default: real and imaginary parts of the
  kernel's 2-D real DFT, times sqrt(kh kw)); a stride-1 convolution with
  corr=False (the hyper-synthesis' last layer) is a true convolution: its
  kernel is flipped for Keras's correlation;
* GDN: the same reparameterisation as tfcodec's (pedestal 2^-36), gamma in the
  same orientation. TFC's default GDN (alpha 1, epsilon 1: x / (beta + gamma |x|),
  what its model scripts train) is tfcodec's `GDN(simplified=True)`; a model built
  with GDN(alpha_parameter=2, epsilon_parameter=0.5) has the classic one. A
  checkpoint does not store alpha and epsilon (they are constants), so the caller
  says which (`gdn`, default TFC's);
* the hyper-synthesis gives scale indexes i, scale = exp(log 0.11 + i * step)
  with i clipped to [0, 63]: an affine map of tfcodec's log-scale, folded into
  its last layer (the clip is tfcodec's own bound on log-scales);
* z's quantisation offset (`ContinuousBatchedEntropyModel.quantization_offset`)
  is read from `quantization_offset` when the checkpoint has it (tfc_model.py
  saves it), else computed from the prior's median as TFC does (to within TFC's
  own iterative estimate, about 2e-4).
"""

import math
import re

import numpy as np

from tfcodec import fileio
from tfcodec.errors import FormatError
from tfcodec.importers.bundle import assign, assign_gdn
from tfcodec.models.config import HyperpriorConfig

TRANSFORMS = ("analysis_transform", "synthesis_transform", "hyper_analysis_transform",
              "hyper_synthesis_transform")
SCALE_MIN, SCALE_MAX, NUM_SCALES = 0.11, 256.0, 64   # TFC's model scripts' defaults
DEFAULT_LAMBDA = 0.01                                  # bmshj2018.py's default


def _reader(path):
    """A checkpoint reader for a prefix, a folder of checkpoints or a SavedModel folder."""
    import tensorflow as tf

    path = str(path)
    candidates = [path]
    if fileio.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        candidates = ([latest] if latest else []) + [fileio.join(path, "variables", "variables")]
    for candidate in candidates:
        if candidate and fileio.exists(f"{candidate}.index"):
            return tf.train.load_checkpoint(candidate)
    raise FormatError(f"{path} is not a TensorFlow checkpoint (prefix, folder of checkpoints or SavedModel)")


def _object_paths(reader):
    """{checkpoint key: attribute path} from the checkpoint's object graph. Keras's
    SavedModel (what TFC's scripts write with model.save) keys its variables
    `variables/<n>`; a tf.train.Checkpoint keys them by path from its root."""
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    # Lists of the same variables that Keras also tracks: a path through them says nothing.
    aliases = {"variables", "trainable_variables", "non_trainable_variables", "keras_api", "layers"}
    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    paths, queue = {0: ""}, [0]
    while queue:
        node = queue.pop(0)
        for child in graph.nodes[node].children:
            if child.node_id not in paths and child.local_name not in aliases:
                paths[child.node_id] = f"{paths[node]}/{child.local_name}".lstrip("/")
                queue.append(child.node_id)
    return {attribute.checkpoint_key: paths[node] for node in paths
            for attribute in graph.nodes[node].attributes if attribute.name == "VARIABLE_VALUE"}


def read_variables(path):
    """{attribute path: array} of a checkpoint's variables, without the `model/` root of a
    tf.train.Checkpoint(model=...)."""
    reader = _reader(path)
    out = {}
    for key, name in _object_paths(reader).items():
        if name.startswith(("optimizer/", "save_counter")) or "OPTIMIZER_SLOT" in key:
            continue
        out[name[len("model/"):] if name.startswith("model/") else name] = reader.get_tensor(key)
    return out


def rdft_kernel(real, imag):
    """The spatial kernel (kh, kw, in, out) of TFC's RDFT parameterisation (in, out, kh, kw//2+1)."""
    kh = real.shape[2]
    kw = 2 * (real.shape[3] - 1) + 1  # TFC's kernels are odd-sized
    spectrum = (np.asarray(real, np.float64) + 1j * np.asarray(imag, np.float64)) * math.sqrt(kh * kw)
    return np.fft.irfft2(spectrum, s=(kh, kw)).transpose(2, 3, 0, 1)


def _layers(variables, transform):
    """The layers of one transform in order: ("conv", kernel, bias or None) and ("gdn", beta, gamma)."""
    groups = {}
    for name, value in variables.items():
        match = re.match(rf"{transform}/layer_with_weights-(\d+)/(.*)$", name)
        if match:
            groups.setdefault(int(match.group(1)), {})[match.group(2)] = value
    if not groups:
        raise FormatError(f"the checkpoint has no {transform}: not a TFC bmshj2018 model")
    layers = []
    for index in sorted(groups):
        group = groups[index]
        kernel = None
        for key, value in group.items():
            if key.endswith("_kernel_parameter/real"):
                kernel = rdft_kernel(value, group[key[:-len("real")] + "imag"])
            elif key.endswith("_kernel_parameter") or key.endswith("kernel_parameter/variable"):
                kernel = np.asarray(value, np.float64)
        bias = next((v for k, v in group.items() if k.endswith("_bias_parameter")), None)
        beta = next((v for k, v in group.items() if k.endswith("_beta_parameter/variable")), None)
        gamma = next((v for k, v in group.items() if k.endswith("_gamma_parameter/variable")), None)
        if kernel is not None:
            layers.append(("conv", kernel, bias))
        if beta is not None and gamma is not None:
            layers.append(("gdn", beta, gamma))
        if kernel is None and beta is None:
            raise FormatError(f"{transform} layer {index} is neither a SignalConv2D nor a GDN "
                              f"({', '.join(sorted(group))})")
    return layers


def quantization_offsets(prior, channels):
    """TFC's quantisation offsets of z for a deep factorized prior: each channel's median
    (logits of its CDF = 0, by bisection) minus its nearest integer. A model trained on
    (re)computes them this way after training, as TFC does when it builds its coders."""
    import tensorflow as tf

    lo, hi = np.full(channels, -1e3), np.full(channels, 1e3)
    for _ in range(60):
        mid = (lo + hi) / 2
        logits = prior.logits_cdf(tf.constant(mid.astype(np.float32)[:, None, None])).numpy()[:, 0, 0]
        lo, hi = np.where(logits < 0, mid, lo), np.where(logits < 0, hi, mid)
    median = (lo + hi) / 2
    return median - np.round(median)


def _load(sequential, layers, transform, last_is_convolution=False, fold=None):
    """Assigns TFC layers to a Keras Sequential's conv and GDN layers, in order."""
    import keras

    from tfcodec.layers import GDN

    targets = [l for l in sequential.layers if isinstance(l, (keras.layers.Conv2D, keras.layers.Conv2DTranspose, GDN))]
    if [t[0] for t in layers] != ["gdn" if isinstance(l, GDN) else "conv" for l in targets]:
        raise FormatError(f"{transform}: layers {[t[0] for t in layers]} are not those of a TFC bmshj2018 model")
    convs = [i for i, t in enumerate(layers) if t[0] == "conv"]
    for i, ((kind, a, b), layer) in enumerate(zip(layers, targets)):
        if kind == "gdn":
            assign_gdn(layer, a, b, f"{transform} GDN")
            continue
        kernel, bias = a, (np.zeros(a.shape[-1]) if b is None else np.asarray(b, np.float64))
        if isinstance(layer, keras.layers.Conv2DTranspose):
            kernel = kernel.transpose(0, 1, 3, 2)              # Keras: (kh, kw, out, in)
        elif i == convs[-1] and last_is_convolution:
            kernel = kernel[::-1, ::-1]                        # corr=False: a true convolution
        if i == convs[-1] and fold is not None:
            kernel, bias = fold(kernel, bias)
        assign(layer.kernel, kernel, f"{transform} kernel")
        if layer.use_bias:
            assign(layer.bias, bias, f"{transform} bias")
        elif b is not None:
            raise FormatError(f"{transform}: a bias where TFC's bmshj2018 has none")


def model_from_checkpoint(path, lmbda=None, gdn="simplified"):
    """(model name, built Keras model computing the TFC checkpoint's model). `gdn`:
    "simplified" (TFC's default GDN) or "classic" (alpha 2, epsilon 0.5)."""
    from tfcodec.models import hyperprior

    if gdn not in ("classic", "simplified"):
        raise FormatError(f"GDN must be classic or simplified, not {gdn!r}")
    variables = read_variables(path)
    layers = {t: _layers(variables, t) for t in TRANSFORMS}
    try:
        n = layers["analysis_transform"][0][1].shape[-1]
        m = layers["analysis_transform"][-1][1].shape[-1]
        hyper_filters = layers["hyper_analysis_transform"][0][1].shape[-1]
        hyper_channels = layers["hyper_analysis_transform"][-1][1].shape[-1]
    except (IndexError, AttributeError):
        raise FormatError(f"{path}: not a TFC bmshj2018 model") from None
    lmbda = DEFAULT_LAMBDA if lmbda is None else float(lmbda)
    config = HyperpriorConfig("bmshj2018", n, m, hyper_filters, hyper_channels, predict_means=False,
                              gain_levels=2, lambda_min=lmbda, lambda_max=lmbda, layout="tfc", gdn=gdn)
    name = f"tfc-bmshj2018-n{n}-m{m}"
    model = hyperprior.build(name, config)
    step = (math.log(SCALE_MAX) - math.log(SCALE_MIN)) / (NUM_SCALES - 1)

    def index_to_log_scale(kernel, bias):
        return kernel * step, bias * step + math.log(SCALE_MIN)

    _load(model.analysis, layers["analysis_transform"], "analysis_transform")
    _load(model.synthesis, layers["synthesis_transform"], "synthesis_transform")
    _load(model.hyper_analysis, layers["hyper_analysis_transform"], "hyper_analysis_transform")
    _load(model.hyper_synthesis, layers["hyper_synthesis_transform"], "hyper_synthesis_transform",
          last_is_convolution=True, fold=index_to_log_scale)
    prior = model.hyper_prior
    for kind, weights in (("matrices", prior.matrices), ("biases", prior.biases), ("factors", prior.factors)):
        for i, variable in enumerate(weights):
            key = f"hyperprior/_base/_{kind}/{i}"
            if key not in variables:
                raise FormatError(f"the checkpoint has no {key}: not a TFC NoisyDeepFactorized hyperprior "
                                  "with num_filters=(3, 3)")
            assign(variable, variables[key], key)
    # tfc_model.py saves the offsets as `quantization_offset`; a model that built its coding
    # entropy model (TFC's scripts do after fit) holds them in it.
    stored = sorted(k for k in variables if k.split("/")[-1].lstrip("_") == "quantization_offset")
    if stored:
        offset = np.asarray(variables[stored[0]], np.float64).reshape(-1)
    else:
        offset = quantization_offsets(prior, hyper_channels)
    assign(model.z_offset, offset, "quantization_offset")
    for table in (model.gains.log_gain, model.gains.log_inverse_gain):
        table.assign(np.zeros(table.shape, np.float32))
    return name, model
