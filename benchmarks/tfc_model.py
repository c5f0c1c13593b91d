"""Ballé et al. 2018's scale hyperprior built from TensorFlow Compression (TFC) 2.14's public layers.

Runs in the TFC venv only (tfcodec never imports TFC):

    /work/tfc-venv/bin/python -c "import sys; sys.path.insert(0, 'benchmarks'); import tfc_model"

It is the TFC side of `benchmarks/compare_tfc.py` and of `tools/make_tfc_vectors.py` (golden
vectors for `tfcodec import-weights --from tfc`). Structure as in the paper ("Variational image
compression with a scale hyperprior", ICLR 2018):

    analysis_transform         4x SignalConv2D 5x5 corr, strides_down=2, GDN after the first three
    synthesis_transform        4x SignalConv2D 5x5 conv, strides_up=2, IGDN after the first three
    hyper_analysis_transform   on |y|: 3x3 s1 relu, 5x5 s2 relu, 5x5 s2 without bias
    hyper_synthesis_transform  5x5 up2 relu, 5x5 up2 relu, 3x3 s1 conv -> scale indexes
    hyperprior                 tfc.NoisyDeepFactorized(batch_shape=(hyper_channels,))

y is coded with tfc.LocationScaleIndexedEntropyModel(tfc.NoisyNormal, num_scales, scale_fn),
scale_fn(i) = exp(log(scale_min) + (log(scale_max) - log(scale_min)) / (num_scales - 1) * i);
z with tfc.ContinuousBatchedEntropyModel(hyperprior, coding_rank=3).

Pixels: every method takes and returns images on the [0, 1] scale (float32 NHWC); the transforms
see [0, 1] directly. (TFC's own models/bmshj2018.py takes 0..255 and divides by 255 in a Lambda
layer ahead of the first convolution, so its transform weights work on the same [0, 1] scale.)
The distortion term is the MSE on the 0..255 scale.

GDN: `gdn="classic"` (default) is y = x / sqrt(beta + x^2 @ gamma) as in the paper and in
tfcodec's GDN (tfc.GDN(alpha_parameter=2, epsilon_parameter=0.5)); `gdn="simplified"` is
tfc.GDN's own default (alpha=1, epsilon=1: y = x / (beta + |x| @ gamma)), which TFC's
models/bmshj2018.py uses. Both store the same two variables (reparam_beta, reparam_gamma).

`kernel_parameter="rdft"` (TFC's default: each kernel stored as the real and imaginary parts of
its 2-D real DFT) or `"variable"` (the kernel itself).

Checkpoint (`save`): tf.train.Checkpoint(model=model).save(prefix) writes prefix-1.index and
prefix-1.data-00000-of-00001 (and a `checkpoint` file). `checkpoint_variables(path)` lists the
names; with kernel_parameter="rdft" they are

    model/analysis_transform/layer_with_weights-{0..6}/...
        conv layers (0, 2, 4, 6): _kernel_parameter/real, _kernel_parameter/imag  (in, out, 5, 3)
                                  _bias_parameter                              (out,)
        GDN layers (1, 3, 5):     _beta_parameter/variable (C,), _gamma_parameter/variable (C, C)
    model/synthesis_transform/layer_with_weights-{0..6}/...         the same, IGDN at 1, 3, 5
    model/hyper_analysis_transform/layer_with_weights-{0,1,2}/...   3x3 real/imag: (in, out, 3, 2);
    model/hyper_synthesis_transform/layer_with_weights-{0,1,2}/...  hyper-analysis 2 has no bias
    model/hyperprior/_base/_matrices/{0,1,2}  (C, 3, 1), (C, 3, 3), (C, 1, 3)
    model/hyperprior/_base/_biases/{0,1,2}    (C, 3, 1), (C, 3, 1), (C, 1, 1)
    model/hyperprior/_base/_factors/{0,1}     (C, 3, 1), (C, 3, 1)
    model/quantization_offset                 (C,)          (C = hyper_channels)
    save_counter                              ()

each followed by /.ATTRIBUTES/VARIABLE_VALUE (with "variable": _kernel_parameter/.ATTRIBUTES/...
holds the (k, k, in, out) kernel itself). `model/quantization_offset` is this module's copy of the z
entropy model's offset (`build_coders`), written by `save`; TFC's own training checkpoints lack
it (TFC keeps it in its compression entropy model).
"""

import tensorflow as tf
import tensorflow_compression as tfc

GDN_FORMS = ("classic", "simplified")


def _gdn(inverse, form, name):
    if form == "classic":
        return tfc.GDN(inverse=inverse, alpha_parameter=2, epsilon_parameter=0.5, name=name)
    if form == "simplified":
        return tfc.GDN(inverse=inverse, name=name)
    raise ValueError(f"gdn must be one of {GDN_FORMS}, not {form!r}")


def _conv(filters, size, down=1, up=1, corr=True, bias=True, activation=None,
          kernel_parameter="rdft", name=None):
    return tfc.SignalConv2D(
        filters, (size, size), corr=corr, strides_down=down, strides_up=up,
        padding="same_zeros", use_bias=bias, activation=activation,
        kernel_parameter=kernel_parameter, name=name)


def analysis_transform(num_filters, latent_channels, kernel_parameter="rdft", gdn="classic"):
    layers = []
    for i in range(3):
        layers += [_conv(num_filters, 5, down=2, kernel_parameter=kernel_parameter, name=f"layer_{i}"),
                   _gdn(False, gdn, f"gdn_{i}")]
    layers.append(_conv(latent_channels, 5, down=2, kernel_parameter=kernel_parameter, name="layer_3"))
    return tf.keras.Sequential(layers, name="analysis_transform")


def synthesis_transform(num_filters, kernel_parameter="rdft", gdn="classic"):
    layers = []
    for i in range(3):
        layers += [_conv(num_filters, 5, up=2, corr=False, kernel_parameter=kernel_parameter, name=f"layer_{i}"),
                   _gdn(True, gdn, f"igdn_{i}")]
    layers.append(_conv(3, 5, up=2, corr=False, kernel_parameter=kernel_parameter, name="layer_3"))
    return tf.keras.Sequential(layers, name="synthesis_transform")


def hyper_analysis_transform(hyper_filters, hyper_channels, kernel_parameter="rdft"):
    return tf.keras.Sequential([
        _conv(hyper_filters, 3, activation=tf.nn.relu, kernel_parameter=kernel_parameter, name="layer_0"),
        _conv(hyper_filters, 5, down=2, activation=tf.nn.relu, kernel_parameter=kernel_parameter, name="layer_1"),
        _conv(hyper_channels, 5, down=2, bias=False, kernel_parameter=kernel_parameter, name="layer_2"),
    ], name="hyper_analysis_transform")


def hyper_synthesis_transform(hyper_filters, latent_channels, kernel_parameter="rdft"):
    return tf.keras.Sequential([
        _conv(hyper_filters, 5, up=2, corr=False, activation=tf.nn.relu,
              kernel_parameter=kernel_parameter, name="layer_0"),
        _conv(hyper_filters, 5, up=2, corr=False, activation=tf.nn.relu,
              kernel_parameter=kernel_parameter, name="layer_1"),
        _conv(latent_channels, 3, corr=False, kernel_parameter=kernel_parameter, name="layer_2"),
    ], name="hyper_synthesis_transform")


class ScaleHyperprior(tf.keras.Model):
    """bmshj2018 scale hyperprior; `lmbda` weighs the 0..255 MSE against bits per pixel."""

    def __init__(self, lmbda=0.01, num_filters=64, latent_channels=96, hyper_filters=64,
                 hyper_channels=64, num_scales=64, scale_min=0.11, scale_max=256.0,
                 kernel_parameter="rdft", gdn="classic", **kwargs):
        super().__init__(**kwargs)
        self.lmbda = float(lmbda)
        self.num_scales = int(num_scales)
        self.scale_min = float(scale_min)
        self.scale_max = float(scale_max)
        self.kernel_parameter = kernel_parameter
        self.gdn = gdn
        self.analysis_transform = analysis_transform(num_filters, latent_channels, kernel_parameter, gdn)
        self.synthesis_transform = synthesis_transform(num_filters, kernel_parameter, gdn)
        self.hyper_analysis_transform = hyper_analysis_transform(hyper_filters, hyper_channels, kernel_parameter)
        self.hyper_synthesis_transform = hyper_synthesis_transform(hyper_filters, latent_channels, kernel_parameter)
        self.hyperprior = tfc.NoisyDeepFactorized(batch_shape=(hyper_channels,))
        self.quantization_offset = tf.Variable(
            tf.zeros((hyper_channels,)), trainable=False, name="quantization_offset")
        # Entropy models hold no variables of their own in training (compression=False), and the
        # coding ones hold range-coding tables: neither goes into the checkpoint (object.__setattr__
        # keeps Keras from tracking them).
        object.__setattr__(self, "_train_models", (
            tfc.LocationScaleIndexedEntropyModel(tfc.NoisyNormal, self.num_scales, self.scale_fn,
                                                 coding_rank=3, compression=False),
            tfc.ContinuousBatchedEntropyModel(self.hyperprior, coding_rank=3, compression=False),
        ))
        object.__setattr__(self, "_coders", None)
        self.build((None, None, None, 3))

    def build(self, input_shape):
        self.analysis_transform.build(input_shape)
        y_shape = self.analysis_transform.compute_output_shape(input_shape)
        self.hyper_analysis_transform.build(y_shape)
        z_shape = self.hyper_analysis_transform.compute_output_shape(y_shape)
        self.hyper_synthesis_transform.build(z_shape)
        self.synthesis_transform.build(y_shape)
        super().build(input_shape)

    def scale_fn(self, indexes):
        log_min = tf.math.log(self.scale_min)
        step = (tf.math.log(self.scale_max) - log_min) / (self.num_scales - 1)
        return tf.math.exp(log_min + step * indexes)

    # --- training

    def rate_distortion(self, x, training=True):
        """x in [0, 1]: per-image dict of bpp, mse (0..255 scale), loss, and x_hat."""
        em_y, em_z = self._train_models
        y = self.analysis_transform(x)
        z = self.hyper_analysis_transform(tf.abs(y))
        z_tilde, bits_z = em_z(z, training=training)
        indexes = self.hyper_synthesis_transform(z_tilde)[:, :tf.shape(y)[1], :tf.shape(y)[2], :]
        y_tilde, bits_y = em_y(y, indexes, training=training)
        x_hat = self.synthesis_transform(y_tilde)[:, :tf.shape(x)[1], :tf.shape(x)[2], :]
        pixels = tf.cast(tf.reduce_prod(tf.shape(x)[1:3]), bits_y.dtype)
        bpp = (bits_y + bits_z) / pixels
        mse = tf.reduce_mean(tf.math.squared_difference(x, x_hat), axis=(1, 2, 3)) * 255.0 ** 2
        return dict(bpp=bpp, mse=mse, loss=bpp + self.lmbda * mse, x_hat=x_hat)

    def call(self, x, training=False):
        return self.rate_distortion(x, training=training)["x_hat"]

    def train_step(self, x):
        """One Adam step on a batch x in [0, 1] (compile with an optimizer first)."""
        with tf.GradientTape() as tape:
            rd = self.rate_distortion(x, training=True)
            loss = tf.reduce_mean(rd["loss"])
        variables = self.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return dict(loss=loss, bpp=tf.reduce_mean(rd["bpp"]), mse=tf.reduce_mean(rd["mse"]))

    # --- coding

    def build_coders(self):
        """Range-coding entropy models for the current weights; updates `quantization_offset`."""
        em_y = tfc.LocationScaleIndexedEntropyModel(tfc.NoisyNormal, self.num_scales, self.scale_fn,
                                                    coding_rank=3, compression=True)
        em_z = tfc.ContinuousBatchedEntropyModel(self.hyperprior, coding_rank=3, compression=True)
        self.quantization_offset.assign(tf.broadcast_to(em_z.quantization_offset, self.quantization_offset.shape))
        object.__setattr__(self, "_coders", (em_y, em_z))
        return em_y, em_z

    @property
    def coders(self):
        return self._coders or self.build_coders()

    def compress(self, x):
        """x in [0, 1], (B, H, W, 3) -> [y_strings, z_strings], each (B,) tf.string."""
        em_y, em_z = self.coders
        y = self.analysis_transform(x)
        z = self.hyper_analysis_transform(tf.abs(y))
        z_strings = em_z.compress(z)
        z_hat = em_z.decompress(z_strings, tf.shape(z)[1:-1])
        indexes = self.hyper_synthesis_transform(z_hat)[:, :tf.shape(y)[1], :tf.shape(y)[2], :]
        return [em_y.compress(y, indexes), z_strings]

    def decompress(self, strings, shape):
        """[y_strings, z_strings] and the image's (H, W) -> x_hat, unclamped, on the [0, 1] scale."""
        em_y, em_z = self.coders
        y_strings, z_strings = strings
        height, width = int(shape[0]), int(shape[1])
        z_shape = (-(-height // 64), -(-width // 64))
        z_hat = em_z.decompress(z_strings, z_shape)
        indexes = self.hyper_synthesis_transform(z_hat)
        y_shape = (-(-height // 16), -(-width // 16))
        indexes = indexes[:, :y_shape[0], :y_shape[1], :]
        y_hat = em_y.decompress(y_strings, indexes)
        x_hat = self.synthesis_transform(y_hat)
        return x_hat[:, :height, :width, :]


def save(model, path):
    """Writes tf.train.Checkpoint(model=model) under the prefix `path`; returns the file prefix."""
    model.build_coders()
    return tf.train.Checkpoint(model=model).save(path)


def restore(model, path):
    """Reads a checkpoint written by `save` (a file prefix, or a folder: its latest) into model."""
    if tf.io.gfile.isdir(path):
        path = tf.train.latest_checkpoint(path)
    tf.train.Checkpoint(model=model).restore(path).assert_existing_objects_matched()
    object.__setattr__(model, "_coders", None)
    return model


def checkpoint_variables(path):
    """[(name, shape)] of a checkpoint's variables, without the object graph entry."""
    return [(n, s) for n, s in tf.train.list_variables(path) if n != "_CHECKPOINTABLE_OBJECT_GRAPH"]


def _time_train_step(argv=None):
    """Steps/s of train_step on random 128x128 crops (the TFC side of compare_tfc's timings)."""
    import argparse
    import time

    import numpy as np

    parser = argparse.ArgumentParser(description=_time_train_step.__doc__)
    parser.add_argument("--kernel-parameter", choices=("rdft", "variable"), default="rdft")
    parser.add_argument("--gdn", choices=GDN_FORMS, default="classic")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args(argv)
    tf.keras.utils.set_random_seed(0)
    model = ScaleHyperprior(kernel_parameter=args.kernel_parameter, gdn=args.gdn)
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-4))
    step = tf.function(model.train_step)
    x = tf.constant(np.random.default_rng(0).uniform(size=(args.batch, args.crop, args.crop, 3)), tf.float32)
    for _ in range(args.warmup):
        step(x)["loss"].numpy()
    start = time.perf_counter()
    for _ in range(args.steps):
        out = step(x)
    loss = float(out["loss"])
    seconds = time.perf_counter() - start
    print(f"kernel_parameter={args.kernel_parameter} gdn={args.gdn} batch={args.batch} "
          f"crop={args.crop}: {args.steps / seconds:.3f} steps/s ({seconds / args.steps * 1000:.0f} ms/step, "
          f"{tf.config.threading.get_intra_op_parallelism_threads() or 'default'} intra-op threads, loss {loss:.2f})")


if __name__ == "__main__":
    _time_train_step()
