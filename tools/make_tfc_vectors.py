"""Golden vectors of a tiny TFC-built scale hyperprior, for `tfcodec import-weights --from tfc`.

Runs in the TensorFlow Compression venv (tools/make_venvs.sh, the `tfc venv` block), never in
tfcodec's own environment:

    /work/tfc-venv/bin/python tools/make_tfc_vectors.py [--gdn classic|simplified] [--seed 0]

Builds benchmarks/tfc_model.py's ScaleHyperprior small (N=16, M=24, hyper 16/16, 64 scales,
kernel_parameter="rdft") at a fixed seed, gives it non-trivial parameters (conv biases in
+-0.1, GDN beta in [0.5, 2] and off-diagonal gamma up to 0.02, latents spread over several
integers, scale indexes spanning most of 0..63 on the test image (each channel's
centred on the scale of its y), a hyperprior whose medians
are off zero), and writes

    tests/data/tfc/bmshj2018-tiny/ckpt-1.{index,data-00000-of-00001}, checkpoint
        tf.train.Checkpoint(model=model) (variable names: benchmarks/tfc_model.py's docstring)
    tests/data/tfc/bmshj2018-tiny.npz   (np.savez_compressed; load with allow_pickle=False)
        x              (1, 128, 192, 3) float32: tests/data/golden_image.png (120x176) on the
                       [0, 1] scale, edge-padded at the bottom and right (tfcodec.images' way)
        y              analysis_transform(x)                      (1, 8, 12, 24)
        z              hyper_analysis_transform(|y|)              (1, 2, 3, 16)
        z_offset       the z entropy model's quantization_offset  (16,)
        z_hat          round(z - z_offset) + z_offset, as TFC's compress/decompress gives it
        indexes        hyper_synthesis_transform(z_hat), float    (1, 8, 12, 24)
        y_hat          round(y) (no offset for the indexed model)
        x_hat          synthesis_transform(y_hat), unclamped, [0, 1] scale
        x_decompressed the model's decompress(compress(x)): TFC's range coder both ways
        stream_bytes   total bytes of TFC's strings (y and z)
        y_stream_bytes, z_stream_bytes
        likelihood_bits  -log2 of the likelihoods of y_hat and z_hat (TFC entropy models,
                       training=False: continuous indexes clipped to [0, 63]); also
                       likelihood_bits_y, likelihood_bits_z; bits_y and bits_z hold them per
                       element. The model is untrained, so the hyper-synthesis does not predict
                       y: a few y elements (about 80 of 2304) lie far in their Gaussians' tails
                       (up to ~300 bits each, ~3700 in all), which TFC's range coder codes
                       through its cheap overflow escape, so stream_bytes * 8 < likelihood_bits
        scales         scale_fn(0..63), the 64 scales of the y entropy model
        config         JSON string: the model's sizes and options
        var/<name>     every checkpoint variable, by its tf.train.list_variables name

The GDN form is "classic" (x / sqrt(beta + x^2 @ gamma), tfcodec's) unless --gdn simplified
(tfc.GDN's default, x / (beta + |x| @ gamma)), which writes bmshj2018-tiny-simplified{/,.npz}.

    /work/tfc-venv/bin/python tools/make_tfc_vectors.py --model script [--seed 0]

writes the layout of TFC's own training script (models/bmshj2018.py) instead, as a user of that
script gets it: `ScriptModel` below (num_filters=16, 64 scales from 0.11 to 256), a Keras model
with attributes analysis_transform, synthesis_transform, hyper_analysis_transform,
hyper_synthesis_transform (Sequentials named "analysis", "synthesis", "hyper_analysis",
"hyper_synthesis", SignalConv2D layers named layer_0..), hyperprior (NoisyDeepFactorized over
num_filters channels), entropy_model and side_entropy_model (the compression=True entropy models
that script's `fit` sets). Differences from bmshj2018-tiny:

    * GDN is each SignalConv2D's `activation=` (not a layer of its own), and it is TFC's default
      tfc.GDN(): the simplified form y = x / (beta + |x| @ gamma), inverse x * (beta + |x| @ gamma);
    * the analysis starts with Lambda(x / 255.) and the synthesis ends with Lambda(x * 255.):
      the model takes and returns the 0..255 scale (the convolutions still see [0, 1]);
    * M = num_filters = 16 latent (and hyper-latent) channels; the hyper-synthesis uses
      kernel_parameter="variable" (the kernel itself), the other transforms TFC's default RDFT;
    * saved with model.save(path): a SavedModel folder, with compress (uint8 (H, W, 3) ->
      string, side_string, x_shape, y_shape, z_shape) and decompress (those five -> uint8
      (H, W, 3)) as tf.functions with input signatures, as in TFC's script.

It writes

    tests/data/tfc/bmshj2018-script/    the SavedModel (saved_model.pb, keras_metadata.pb,
                                        fingerprint.pb, variables/variables.{index,data-*})
    tests/data/tfc/bmshj2018-script.npz the arrays above, with these differences:
        x              still float32 NHWC on [0, 1] (the golden image, edge-padded to 128x192);
                       the model itself was given round(x * 255) as uint8 (x[0] for compress)
        y, z, ...      as above, with the script model's shapes: y (1, 8, 12, 16), z (1, 2, 3, 16)
        x_hat          synthesis_transform(y_hat), unclamped, ON TFC'S 0..255 OUTPUT SCALE
                       (the Lambda(x * 255.) included), not [0, 1]
        x_decompressed the SavedModel's decompress(*compress(x)) as TFC returns it:
                       saturate_cast(round(x_hat)) to uint8, stored as float32 on 0..255,
                       (1, 128, 192, 3)
        stream_bytes   bytes of compress's string + side_string (y_/z_stream_bytes: each)
        var/<name>     every variable of the SavedModel's variables/variables checkpoint by its
                       tf.train.list_variables name (the range coding tables included): Keras's
                       SavedModel names them variables/<n>/.ATTRIBUTES/VARIABLE_VALUE, n in 0..62
        object_paths   JSON string {checkpoint key: attribute path}, from the checkpoint's object
                       graph: e.g. variables/1/... -> analysis_transform/layer_with_weights-0/
                       _activation/_beta_parameter/variable (GDN as the conv's _activation),
                       variables/62/... -> side_entropy_model/_quantization_offset
        config         JSON: model "bmshj2018-script", num_filters, scales, gdn "simplified",
                       kernel parameters, pixel scales
"""

import argparse
import json
import os
import shutil
import sys

import numpy as np
import tensorflow as tf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import tfc_model  # noqa: E402

IMAGE = os.path.join(ROOT, "tests", "data", "golden_image.png")
OUT_DIR = os.path.join(ROOT, "tests", "data", "tfc")
SIZES = dict(num_filters=16, latent_channels=24, hyper_filters=16, hyper_channels=16, num_scales=64)


def load_image(path, multiple=64):
    rgb = tf.io.decode_png(tf.io.read_file(path), channels=3).numpy()
    h, w = rgb.shape[:2]
    rgb = np.pad(rgb, ((0, -h % multiple), (0, -w % multiple), (0, 0)), mode="edge")
    return (rgb.astype(np.float32) / 255.0)[None]


def _conv_layers(seq):
    return [l for l in seq.layers if hasattr(l, "kernel_parameter")]


def _scale_kernel(layer, factor):
    """Multiplies the effective kernel by factor: a scalar, or one per output channel."""
    factor = np.asarray(factor, np.float32)
    p = layer.kernel_parameter
    if hasattr(p, "real"):   # RDFT: real and imag are (in, out, kh, kw // 2 + 1)
        for v in (p.real, p.imag):
            v.assign(v * (factor[None, :, None, None] if factor.ndim else factor))
    else:                    # the kernel itself, (kh, kw, in, out)
        p.assign(p * factor)


def _randomise(model, x, rng):
    """Non-trivial parameters, set in the order the data flows so each step sees the last."""
    pedestal = (2.0 ** -18) ** 2
    for seq in (model.analysis_transform, model.synthesis_transform,
                model.hyper_analysis_transform, model.hyper_synthesis_transform):
        for layer in seq.layers:
            if getattr(layer, "use_bias", False) and hasattr(layer, "bias_parameter"):
                b = layer.bias_parameter
                b.assign(rng.uniform(-0.1, 0.1, b.shape).astype(np.float32))
            if hasattr(layer, "gamma_parameter"):
                c = layer.beta.shape[0]
                beta = rng.uniform(0.5, 2.0, c)
                gamma = rng.uniform(0.0, 0.02, (c, c))
                np.fill_diagonal(gamma, rng.uniform(0.05, 0.2, c))
                layer.beta_parameter.variable.assign(np.sqrt(beta + pedestal).astype(np.float32))
                layer.gamma_parameter.variable.assign(np.sqrt(gamma + pedestal).astype(np.float32))

    # y: channel standard deviations spread from 0.3 to 8 (so some channels quantise mostly to
    # zero and others span a dozen integers); z: standard deviation about 2.5.
    last = _conv_layers(model.analysis_transform)[-1]
    y = model.analysis_transform(x).numpy()
    target_std = rng.permutation(np.geomspace(0.3, 8.0, y.shape[-1]))
    factor = target_std / np.std(y, axis=(0, 1, 2))
    _scale_kernel(last, factor)
    last.bias_parameter.assign(last.bias_parameter * factor)
    y = model.analysis_transform(x)
    last = _conv_layers(model.hyper_analysis_transform)[-1]
    z = model.hyper_analysis_transform(tf.abs(y))
    _scale_kernel(last, 2.5 / float(tf.math.reduce_std(z)))
    z = model.hyper_analysis_transform(tf.abs(y))

    # Hyperprior: random but monotone (softplus matrices), medians moved off zero by shifting
    # the first layer's bias: F(x) becomes F(x - c) with c = shift.
    base = model.hyperprior.base
    for v in base._matrices:
        v.assign(v + rng.normal(0, 0.3, v.shape).astype(np.float32))
    for v in base._factors:
        v.assign(rng.normal(0, 0.7, v.shape).astype(np.float32))
    for v in base._biases:
        v.assign(v + rng.normal(0, 0.3, v.shape).astype(np.float32))
    c = int(z.shape[-1])
    shift = (np.mean(z, axis=(0, 1, 2)) + rng.uniform(-1.5, 1.5, c)).astype(np.float32)
    m0 = tf.nn.softplus(base._matrices[0]).numpy()            # (C, F1, 1)
    base._biases[0].assign(base._biases[0] - m0 * shift[:, None, None])

    # Scale indexes: the last hyper-synthesis layer is linear, so scaling its kernel by a and its
    # bias by a plus b (per channel) maps idx to a * idx + b. Per channel, put the median at the
    # index whose scale is that channel's standard deviation of y (kept in 14..50), and the 2nd..98th percentiles
    # 24 indexes apart: over all channels the indexes then span most of 0..63 while the scales
    # stay plausible for y (so no likelihood is absurdly small).
    em_z = tfc_model.tfc.ContinuousBatchedEntropyModel(model.hyperprior, coding_rank=3, compression=False)
    z_hat = em_z.quantize(z)
    idx = model.hyper_synthesis_transform(z_hat).numpy()
    lo, med, hi = np.percentile(idx, [2, 50, 98], axis=(0, 1, 2))
    step = np.log(model.scale_max / model.scale_min) / (model.num_scales - 1)
    centre = np.clip(np.log(np.std(y, axis=(0, 1, 2)) / model.scale_min) / step, 14, 50)
    a = 24.0 / (hi - lo)
    b = centre - a * med
    last = _conv_layers(model.hyper_synthesis_transform)[-1]
    _scale_kernel(last, a)
    last.bias_parameter.assign(last.bias_parameter * a + b)

    # x_hat: the IGDNs grow with y, so bring the output back to about the image's spread.
    y_hat = tf.round(y)
    last = _conv_layers(model.synthesis_transform)[-1]
    _scale_kernel(last, 0.3 / float(tf.math.reduce_std(model.synthesis_transform(y_hat))))


# --- TFC's training-script layout (models/bmshj2018.py), written here from TFC's public API

SCRIPT_SIZES = dict(num_filters=16, num_scales=64, scale_min=0.11, scale_max=256.0)


def _script_conv(filters, size, down=1, up=1, corr=True, bias=True, activation=None,
                 kernel_parameter="rdft", name=None):
    return tfc_model.tfc.SignalConv2D(
        filters, (size, size), corr=corr, strides_down=down, strides_up=up, padding="same_zeros",
        use_bias=bias, activation=activation, kernel_parameter=kernel_parameter, name=name)


def script_transforms(num_filters):
    """The four transforms of TFC's script: (analysis, synthesis, hyper_analysis, hyper_synthesis)."""
    tfc = tfc_model.tfc
    n = num_filters
    analysis = tf.keras.Sequential(
        [tf.keras.layers.Lambda(lambda x: x / 255.)]
        + [_script_conv(n, 5, down=2, activation=tfc.GDN(name=f"gdn_{i}"), name=f"layer_{i}")
           for i in range(3)]
        + [_script_conv(n, 5, down=2, name="layer_3")], name="analysis")
    synthesis = tf.keras.Sequential(
        [_script_conv(n, 5, up=2, corr=False, activation=tfc.GDN(inverse=True, name=f"igdn_{i}"),
                      name=f"layer_{i}") for i in range(3)]
        + [_script_conv(3, 5, up=2, corr=False, name="layer_3"),
           tf.keras.layers.Lambda(lambda x: x * 255.)], name="synthesis")
    hyper_analysis = tf.keras.Sequential([
        _script_conv(n, 3, activation=tf.nn.relu, name="layer_0"),
        _script_conv(n, 5, down=2, activation=tf.nn.relu, name="layer_1"),
        _script_conv(n, 5, down=2, bias=False, name="layer_2"),
    ], name="hyper_analysis")
    hyper_synthesis = tf.keras.Sequential([
        _script_conv(n, 5, up=2, corr=False, activation=tf.nn.relu, kernel_parameter="variable",
                     name="layer_0"),
        _script_conv(n, 5, up=2, corr=False, activation=tf.nn.relu, kernel_parameter="variable",
                     name="layer_1"),
        _script_conv(n, 3, corr=False, kernel_parameter="variable", name="layer_2"),
    ], name="hyper_synthesis")
    return analysis, synthesis, hyper_analysis, hyper_synthesis


class ScriptModel(tf.keras.Model):
    """The model class of TFC's models/bmshj2018.py: same attributes, layers, names and
    compress/decompress signatures (takes and returns 0..255)."""

    def __init__(self, lmbda=0.01, num_filters=192, num_scales=64, scale_min=0.11, scale_max=256.0):
        super().__init__()
        self.lmbda = lmbda
        self.num_scales = num_scales
        self.scale_min = scale_min
        self.scale_max = scale_max
        offset = tf.math.log(scale_min)
        factor = (tf.math.log(scale_max) - tf.math.log(scale_min)) / (num_scales - 1.)
        self.scale_fn = lambda i: tf.math.exp(offset + factor * i)
        (self.analysis_transform, self.synthesis_transform, self.hyper_analysis_transform,
         self.hyper_synthesis_transform) = script_transforms(num_filters)
        self.hyperprior = tfc_model.tfc.NoisyDeepFactorized(batch_shape=(num_filters,))
        self.build((None, None, None, 3))

    def call(self, x, training):
        """x on 0..255 -> (loss, bpp, mse), the script's rate-distortion Lagrangian."""
        tfc = tfc_model.tfc
        entropy_model = tfc.LocationScaleIndexedEntropyModel(
            tfc.NoisyNormal, self.num_scales, self.scale_fn, coding_rank=3, compression=False)
        side_entropy_model = tfc.ContinuousBatchedEntropyModel(
            self.hyperprior, coding_rank=3, compression=False)
        y = self.analysis_transform(x)
        z = self.hyper_analysis_transform(abs(y))
        z_hat, side_bits = side_entropy_model(z, training=training)
        indexes = self.hyper_synthesis_transform(z_hat)
        y_hat, bits = entropy_model(y, indexes, training=training)
        x_hat = self.synthesis_transform(y_hat)
        num_pixels = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), bits.dtype)
        bpp = (tf.reduce_sum(bits) + tf.reduce_sum(side_bits)) / num_pixels
        mse = tf.reduce_mean(tf.math.squared_difference(x, x_hat))
        return bpp + self.lmbda * mse, bpp, mse

    def build_entropy_models(self):
        """What the script's `fit` does once training ends: the range-coding entropy models."""
        tfc = tfc_model.tfc
        self.entropy_model = tfc.LocationScaleIndexedEntropyModel(
            tfc.NoisyNormal, self.num_scales, self.scale_fn, coding_rank=3, compression=True)
        self.side_entropy_model = tfc.ContinuousBatchedEntropyModel(
            self.hyperprior, coding_rank=3, compression=True)

    @tf.function(input_signature=[tf.TensorSpec(shape=(None, None, 3), dtype=tf.uint8)])
    def compress(self, x):
        """uint8 (H, W, 3) -> string, side_string, x_shape, y_shape, z_shape."""
        x = tf.cast(x[None], tf.float32)
        y = self.analysis_transform(x)
        z = self.hyper_analysis_transform(abs(y))
        x_shape, y_shape, z_shape = tf.shape(x)[1:-1], tf.shape(y)[1:-1], tf.shape(z)[1:-1]
        z_hat = self.side_entropy_model.quantize(z)
        indexes = self.hyper_synthesis_transform(z_hat)[:, :y_shape[0], :y_shape[1], :]
        side_string = self.side_entropy_model.compress(z)
        string = self.entropy_model.compress(y, indexes)
        return string, side_string, x_shape, y_shape, z_shape

    @tf.function(input_signature=[
        tf.TensorSpec(shape=(1,), dtype=tf.string), tf.TensorSpec(shape=(1,), dtype=tf.string),
        tf.TensorSpec(shape=(2,), dtype=tf.int32), tf.TensorSpec(shape=(2,), dtype=tf.int32),
        tf.TensorSpec(shape=(2,), dtype=tf.int32)])
    def decompress(self, string, side_string, x_shape, y_shape, z_shape):
        """The five tensors of compress -> uint8 (H, W, 3)."""
        z_hat = self.side_entropy_model.decompress(side_string, z_shape)
        indexes = self.hyper_synthesis_transform(z_hat)[:, :y_shape[0], :y_shape[1], :]
        y_hat = self.entropy_model.decompress(string, indexes)
        x_hat = self.synthesis_transform(y_hat)[0, :x_shape[0], :x_shape[1], :]
        return tf.saturate_cast(tf.round(x_hat), tf.uint8)


def _randomise_script(model, x255, rng):
    """_randomise for ScriptModel: GDNs are activations, the model works on 0..255."""
    pedestal = (2.0 ** -18) ** 2
    for seq in (model.analysis_transform, model.synthesis_transform,
                model.hyper_analysis_transform, model.hyper_synthesis_transform):
        for layer in _conv_layers(seq):
            if layer.use_bias:
                b = layer.bias_parameter
                b.assign(rng.uniform(-0.1, 0.1, b.shape).astype(np.float32))
            gdn = layer.activation
            if hasattr(gdn, "gamma_parameter"):
                c = layer.filters
                beta = rng.uniform(0.5, 2.0, c)
                gamma = rng.uniform(0.0, 0.02, (c, c))
                np.fill_diagonal(gamma, rng.uniform(0.05, 0.2, c))
                gdn.beta_parameter.variable.assign(np.sqrt(beta + pedestal).astype(np.float32))
                gdn.gamma_parameter.variable.assign(np.sqrt(gamma + pedestal).astype(np.float32))

    last = _conv_layers(model.analysis_transform)[-1]
    y = model.analysis_transform(x255).numpy()
    target_std = rng.permutation(np.geomspace(0.3, 8.0, y.shape[-1]))
    factor = target_std / np.std(y, axis=(0, 1, 2))
    _scale_kernel(last, factor)
    last.bias_parameter.assign(last.bias_parameter * factor)
    y = model.analysis_transform(x255)
    last = _conv_layers(model.hyper_analysis_transform)[-1]
    z = model.hyper_analysis_transform(tf.abs(y))
    _scale_kernel(last, 2.5 / float(tf.math.reduce_std(z)))
    z = model.hyper_analysis_transform(tf.abs(y))

    base = model.hyperprior.base
    for v in base._matrices:
        v.assign(v + rng.normal(0, 0.3, v.shape).astype(np.float32))
    for v in base._factors:
        v.assign(rng.normal(0, 0.7, v.shape).astype(np.float32))
    for v in base._biases:
        v.assign(v + rng.normal(0, 0.3, v.shape).astype(np.float32))
    c = int(z.shape[-1])
    shift = (np.mean(z, axis=(0, 1, 2)) + rng.uniform(-1.5, 1.5, c)).astype(np.float32)
    m0 = tf.nn.softplus(base._matrices[0]).numpy()
    base._biases[0].assign(base._biases[0] - m0 * shift[:, None, None])

    em_z = tfc_model.tfc.ContinuousBatchedEntropyModel(model.hyperprior, coding_rank=3, compression=False)
    idx = model.hyper_synthesis_transform(em_z.quantize(z)).numpy()
    lo, med, hi = np.percentile(idx, [2, 50, 98], axis=(0, 1, 2))
    step = np.log(model.scale_max / model.scale_min) / (model.num_scales - 1)
    centre = np.clip(np.log(np.std(y, axis=(0, 1, 2)) / model.scale_min) / step, 14, 50)
    a = 24.0 / (hi - lo)
    b = centre - a * med
    last = _conv_layers(model.hyper_synthesis_transform)[-1]
    _scale_kernel(last, a)
    last.bias_parameter.assign(last.bias_parameter * a + b)

    # x_hat (0..255): the IGDNs grow with y; spread it about 0.2 * 255 around mid-grey (plus a
    # little per channel) so that little of it saturates in decompress's uint8.
    y_hat = tf.round(y)
    last = _conv_layers(model.synthesis_transform)[-1]
    x_hat = model.synthesis_transform(y_hat).numpy() / 255.0
    _scale_kernel(last, 0.2 / float(np.std(x_hat)))
    last.bias_parameter.assign(rng.uniform(0.4, 0.6, 3).astype(np.float32))
    x_hat = model.synthesis_transform(y_hat).numpy() / 255.0
    last.bias_parameter.assign(last.bias_parameter + (0.5 - np.mean(x_hat, axis=(0, 1, 2))).astype(np.float32)
                               + rng.uniform(-0.05, 0.05, 3).astype(np.float32))


def object_paths(prefix):
    """{checkpoint key: the variable's attribute path from the model} of a checkpoint, read from
    its object graph (for a SavedModel's variables/<n> keys: e.g. variables/1/.ATTRIBUTES/
    VARIABLE_VALUE -> analysis_transform/layer_with_weights-0/_activation/_beta_parameter/variable),
    not following Keras's variables lists."""
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(tf.train.load_checkpoint(prefix).get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    skip = ("variables", "trainable_variables", "non_trainable_variables", "keras_api")
    paths, queue = {0: ""}, [0]
    for node in queue:                      # breadth first: the shortest path to each object
        for child in graph.nodes[node].children:
            if child.local_name in skip or child.node_id in paths:
                continue
            paths[child.node_id] = f"{paths[node]}/{child.local_name}".lstrip("/")
            queue.append(child.node_id)
    return {a.checkpoint_key: paths[i] for i, n in enumerate(graph.nodes) for a in n.attributes
            if i in paths and a.checkpoint_key != "_CHECKPOINTABLE_OBJECT_GRAPH"}


def write_script_vectors(seed=0, image=IMAGE):
    name = "bmshj2018-script"
    tf.keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    config = dict(SCRIPT_SIZES, model=name, latent_channels=SCRIPT_SIZES["num_filters"],
                  hyper_channels=SCRIPT_SIZES["num_filters"], gdn="simplified",
                  kernel_parameter="rdft", hyper_synthesis_kernel_parameter="variable",
                  input_scale="0..255 (Lambda x / 255.)", output_scale="0..255 (Lambda x * 255.)",
                  npz_x="[0, 1]", npz_x_hat="0..255", npz_x_decompressed="0..255 (uint8 values)",
                  padding="edge, bottom/right, to a multiple of 64", seed=seed)
    model = ScriptModel(lmbda=0.01, **SCRIPT_SIZES)
    x = load_image(image)
    x_u8 = np.round(x * 255.0).astype(np.uint8)
    x255 = tf.constant(x_u8.astype(np.float32))
    _randomise_script(model, x255, rng)
    model.build_entropy_models()
    em_y, em_z = model.entropy_model, model.side_entropy_model

    # The script's model has been called by fit (train and validation steps) before it is saved,
    # which gives Keras the input spec that model.save needs.
    model(x255, training=False)
    out_dir = os.path.join(OUT_DIR, name)
    shutil.rmtree(out_dir, ignore_errors=True)
    # A plain model.save, as the script's: its traced call functions make saved_model.pb 2 MB
    # even at this size, but save_traces=False would change the variables' checkpoint keys (to
    # attribute paths such as analysis_transform/layer_with_weights-0/_bias_parameter), while a
    # script user's SavedModel has Keras's variables/<n>/.ATTRIBUTES/VARIABLE_VALUE keys.
    model.save(out_dir)

    y = model.analysis_transform(x255)
    z = model.hyper_analysis_transform(tf.abs(y))
    z_offset = em_z.quantization_offset.numpy()
    z_hat = em_z.quantize(z)
    indexes = model.hyper_synthesis_transform(z_hat)
    y_hat = em_y.quantize(y)
    x_hat = model.synthesis_transform(y_hat)
    _, bits_z = em_z(z, training=False)
    _, bits_y = em_y(y, indexes, training=False)
    scales = model.scale_fn(tf.clip_by_value(indexes, 0.0, model.num_scales - 1.0))
    bits_y_el = -tfc_model.tfc.NoisyNormal(loc=0.0, scale=scales).log_prob(y_hat) / np.log(2.0)
    bits_z_el = -model.hyperprior.log_prob(z_hat) / np.log(2.0)
    assert np.isclose(bits_y_el.numpy().sum(), bits_y.numpy().sum(), rtol=1e-4)
    assert np.isclose(bits_z_el.numpy().sum(), bits_z.numpy().sum(), rtol=1e-4)

    # The SavedModel, reloaded as the script's compress and decompress commands do, codes the
    # image as the model does.
    loaded = tf.keras.models.load_model(out_dir)
    tensors = loaded.compress(x_u8[0])
    x_dec = loaded.decompress(*tensors).numpy()[None].astype(np.float32)
    string, side_string = tensors[0].numpy(), tensors[1].numpy()
    mine = model.compress(x_u8[0])
    assert mine[0].numpy().tolist() == string.tolist() and mine[1].numpy().tolist() == side_string.tolist()
    y_bytes = sum(len(s) for s in string)
    z_bytes = sum(len(s) for s in side_string)
    assert np.allclose(em_z.decompress(side_string, z.shape[1:3]), z_hat), "z_hat"
    expect = np.clip(np.round(x_hat.numpy()), 0, 255)
    assert np.abs(x_dec - expect).max() <= 1, np.abs(x_dec - expect).max()

    arrays = dict(
        x=x, y=y, z=z, z_hat=z_hat, z_offset=z_offset, indexes=indexes, y_hat=y_hat, x_hat=x_hat,
        x_decompressed=x_dec, stream_bytes=np.int64(y_bytes + z_bytes),
        y_stream_bytes=np.int64(y_bytes), z_stream_bytes=np.int64(z_bytes),
        likelihood_bits=np.float32(bits_y.numpy().sum() + bits_z.numpy().sum()),
        likelihood_bits_y=np.float32(bits_y.numpy().sum()),
        likelihood_bits_z=np.float32(bits_z.numpy().sum()),
        bits_y=bits_y_el, bits_z=bits_z_el,
        scales=model.scale_fn(tf.range(64, dtype=tf.float32)),
        config=np.array(json.dumps(config, sort_keys=True)),
    )
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    for k in ("x", "y", "z", "z_hat", "z_offset", "indexes", "y_hat", "x_hat", "x_decompressed", "scales",
              "bits_y", "bits_z"):
        arrays[k] = arrays[k].astype(np.float32)
    prefix = os.path.join(out_dir, "variables", "variables")
    reader = tf.train.load_checkpoint(prefix)
    for var, _ in tfc_model.checkpoint_variables(prefix):
        arrays["var/" + var] = reader.get_tensor(var)
    arrays["object_paths"] = np.array(json.dumps(object_paths(prefix), sort_keys=True))
    out = os.path.join(OUT_DIR, name + ".npz")
    np.savez_compressed(out, **arrays)

    idx = indexes.numpy()
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out_dir) for f in fs)
    print(f"wrote {out_dir}/ ({size} bytes) and {out}")
    print(f"  y std {np.std(y):.3f}, |y_hat| max {np.abs(y_hat).max():.0f}; z std {np.std(z):.3f}; "
          f"z_offset {np.round(z_offset, 4).tolist()}")
    print(f"  indexes min {idx.min():.2f} max {idx.max():.2f}, floor(clip) covers "
          f"{len(np.unique(np.floor(np.clip(idx, 0, 63))))} of 64 scales")
    print(f"  y elements over 16 bits: {int((bits_y_el.numpy() > 16).sum())} "
          f"({float(bits_y_el.numpy()[bits_y_el.numpy() > 16].sum()):.0f} bits)")
    print(f"  stream bytes {y_bytes} + {z_bytes} = {y_bytes + z_bytes}; likelihood bits "
          f"{arrays['likelihood_bits']:.1f} ({arrays['likelihood_bits'] / 8:.1f} bytes)")
    print(f"  x_hat (0..255) range [{x_hat.numpy().min():.1f}, {x_hat.numpy().max():.1f}], "
          f"{float(np.mean((x_hat.numpy() < -0.5) | (x_hat.numpy() > 255.5))):.3f} saturating; "
          f"|x_decompressed - clip(round(x_hat))| max {np.abs(x_dec - expect).max():.0f}, "
          f"{int((x_dec != expect).sum())} differ")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=("tiny", "script"), default="tiny",
                        help="tiny: benchmarks/tfc_model.py's layout, a checkpoint; script: TFC's "
                             "models/bmshj2018.py layout, a SavedModel (bmshj2018-script)")
    parser.add_argument("--gdn", choices=tfc_model.GDN_FORMS, default="classic")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image", default=IMAGE)
    args = parser.parse_args(argv)
    if args.model == "script":
        return write_script_vectors(args.seed, args.image)

    name = "bmshj2018-tiny" + ("" if args.gdn == "classic" else "-" + args.gdn)
    tf.keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    config = dict(SIZES, scale_min=0.11, scale_max=256.0, kernel_parameter="rdft", gdn=args.gdn,
                  pixel_scale="[0, 1]", padding="edge, bottom/right, to a multiple of 64")
    model = tfc_model.ScaleHyperprior(
        **SIZES, scale_min=0.11, scale_max=256.0, kernel_parameter="rdft", gdn=args.gdn)
    x = load_image(args.image)
    _randomise(model, x, rng)

    ckpt_dir = os.path.join(OUT_DIR, name)
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    prefix = tfc_model.save(model, os.path.join(ckpt_dir, "ckpt"))   # also builds the coders
    em_y, em_z = model.coders

    y = model.analysis_transform(x)
    z = model.hyper_analysis_transform(tf.abs(y))
    z_offset = em_z.quantization_offset.numpy()
    z_hat = em_z.quantize(z)
    indexes = model.hyper_synthesis_transform(z_hat)
    y_hat = em_y.quantize(y)
    x_hat = model.synthesis_transform(y_hat)
    _, bits_z = em_z(z, training=False)
    _, bits_y = em_y(y, indexes, training=False)
    # The same bits element by element (TFC's priors evaluated directly), so a comparison can
    # leave out the few far-tail elements whose likelihood a lower bound would change.
    scales = model.scale_fn(tf.clip_by_value(indexes, 0.0, model.num_scales - 1.0))
    bits_y_el = -tfc_model.tfc.NoisyNormal(loc=0.0, scale=scales).log_prob(y_hat) / np.log(2.0)
    bits_z_el = -model.hyperprior.log_prob(z_hat) / np.log(2.0)
    assert np.isclose(bits_y_el.numpy().sum(), bits_y.numpy().sum(), rtol=1e-4)
    assert np.isclose(bits_z_el.numpy().sum(), bits_z.numpy().sum(), rtol=1e-4)
    y_strings, z_strings = model.compress(x)
    x_dec = model.decompress([y_strings, z_strings], x.shape[1:3])
    y_bytes = sum(len(s) for s in y_strings.numpy())
    z_bytes = sum(len(s) for s in z_strings.numpy())

    # Self-checks: TFC's own round trip agrees with the step-by-step values.
    assert np.allclose(em_z.decompress(z_strings, z.shape[1:3]), z_hat), "z_hat"
    assert np.allclose(x_dec, x_hat, atol=1e-5), np.abs(x_dec - x_hat).max()

    arrays = dict(
        x=x, y=y, z=z, z_hat=z_hat, z_offset=z_offset, indexes=indexes, y_hat=y_hat, x_hat=x_hat,
        x_decompressed=x_dec, stream_bytes=np.int64(y_bytes + z_bytes),
        y_stream_bytes=np.int64(y_bytes), z_stream_bytes=np.int64(z_bytes),
        likelihood_bits=np.float32(bits_y.numpy().sum() + bits_z.numpy().sum()),
        likelihood_bits_y=np.float32(bits_y.numpy().sum()),
        likelihood_bits_z=np.float32(bits_z.numpy().sum()),
        bits_y=bits_y_el, bits_z=bits_z_el,
        scales=model.scale_fn(tf.range(64, dtype=tf.float32)),
        config=np.array(json.dumps(config, sort_keys=True)),
    )
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    for k in ("x", "y", "z", "z_hat", "z_offset", "indexes", "y_hat", "x_hat", "x_decompressed", "scales",
              "bits_y", "bits_z"):
        arrays[k] = arrays[k].astype(np.float32)
    reader = tf.train.load_checkpoint(prefix)
    for var, _ in tfc_model.checkpoint_variables(prefix):
        arrays["var/" + var] = reader.get_tensor(var)
    out = os.path.join(OUT_DIR, name + ".npz")
    np.savez_compressed(out, **arrays)

    idx = indexes.numpy()
    print(f"wrote {prefix}.* and {out}")
    print(f"  y std {np.std(y):.3f}, |y_hat| max {np.abs(y_hat).max():.0f}; z std {np.std(z):.3f}; "
          f"z_offset {np.round(z_offset, 4).tolist()}")
    print(f"  indexes min {idx.min():.2f} max {idx.max():.2f}, floor(clip) covers "
          f"{len(np.unique(np.floor(np.clip(idx, 0, 63))))} of 64 scales")
    print(f"  y elements over 16 bits: {int((bits_y_el.numpy() > 16).sum())} "
          f"({float(bits_y_el.numpy()[bits_y_el.numpy() > 16].sum()):.0f} bits)")
    print(f"  stream bytes {y_bytes} + {z_bytes} = {y_bytes + z_bytes}; likelihood bits "
          f"{arrays['likelihood_bits']:.1f} ({arrays['likelihood_bits'] / 8:.1f} bytes)")
    print(f"  x_hat range [{x_hat.numpy().min():.3f}, {x_hat.numpy().max():.3f}]; "
          f"|x_decompressed - x_hat| max {np.abs(x_dec - x_hat).max():.2e}")


if __name__ == "__main__":
    main()
