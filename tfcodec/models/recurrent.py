"""The recurrent residual codec (Toderici et al. 2016, 2017) in Keras 3.

One model, every rate: an encoder RNN looks at the residual the decoder has
left so far, a binarizer turns its output into 32 bits per 16x16 block (0.125
bpp per iteration before entropy coding), and a decoder RNN refines the
reconstruction from those bits. Iteration t sees r_{t-1} = x - x_hat_{t-1}:

    b_t = B(E_t(r_{t-1}))      x_hat_t = D_t(b_t) + gamma * x_hat_{t-1}

with gamma = 0 ("one-shot": the decoder state carries the whole image and each
step outputs the full reconstruction) or gamma = 1 ("additive": each step adds a
correction). The loss is the paper's: the L1 norm of the residual summed over
all iterations, so every prefix of the bitstream is a good code; or, with
`distortion="msssim"`, MS-SSIM in dB summed over iterations
(`tfcodec.models.losses.msssim_log_loss`), the metric the family is judged on.

Cells: ConvLSTM, ConvGRU and the paper's residual GRU (a GRU whose output adds
a 1x1 projection of its input, a ResNet-style shortcut through the cell).

Bit probabilities (the paper's entropy coder, done here as a small CNN so that
decoding stays parallel inside an iteration): the bits of iteration t are
coded in two checkerboard passes on the H/16 grid. Pass A ("anchors", (i+j)
even) is predicted from the bits of every earlier iteration (most recent
first, spatial neighbours included); pass B (the other half) also sees this
iteration's anchor bits. One net (`prob_net`) serves every iteration and both
passes: its input planes say which iteration and which pass it is. It is a
plain Sequential of stride-1 convolutions and ReLUs so that the coding path can
evaluate it with `tfcodec.entropy.integer_net.IntegerNet` and get the same
table indices on every runtime. It trains with cross-entropy on the bits with
a stop-gradient (it never changes the codec), jointly here and again on
deterministic bits when the weights are exported.

Under Keras's `mixed_bfloat16` policy (`tfcodec train --precision`) the cells
and stems compute in bfloat16; the binarizer, the decoder's output layer and
the probability net are pinned to float32, so the bits, the reconstruction the
next residual is taken from, and the rate estimate stay float32 (measured:
1.38x faster steps, loss within 0.05 % of float32's).
"""

import dataclasses
import json
import math

import keras
import numpy as np
import tensorflow as tf

from tfcodec.models.config import RECURRENT_STRIDE as STRIDE
from tfcodec.models.config import RecurrentConfig
from tfcodec.models.losses import msssim_log_loss
from tfcodec.ops import random_uniform


def _conv(filters, kernel, stride=1, name=None, use_bias=True, bias_initializer="zeros", dtype=None):
    return keras.layers.Conv2D(filters, kernel, strides=stride, padding="same", name=name,
                               use_bias=use_bias, bias_initializer=bias_initializer, dtype=dtype)


# ----------------------------------------------------------------------------- cells


@keras.saving.register_keras_serializable("tfcodec")
class ConvLSTMCell(keras.layers.Layer):
    """Convolutional LSTM; the input convolution may be strided. state = (h, c)."""

    def __init__(self, units, stride=1, kernel=3, hidden_kernel=1, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.conv_x = _conv(4 * units, kernel, stride, name=f"{self.name}_x")
        self.conv_h = _conv(4 * units, hidden_kernel, name=f"{self.name}_h", use_bias=False)

    def build(self, input_shape):
        pass  # the convolutions build on first use (the hidden one from the second step)

    def call(self, x, state=None):
        gates = self.conv_x(x)
        if state is not None:
            h, c = state
            gates = gates + self.conv_h(h)
        i, f, o, j = tf.split(gates, 4, axis=-1)
        new_c = tf.sigmoid(i) * tf.tanh(j)
        if state is not None:
            new_c = new_c + tf.sigmoid(f + 1.0) * c
        h = tf.sigmoid(o) * tf.tanh(new_c)
        return h, (h, new_c)


@keras.saving.register_keras_serializable("tfcodec")
class ConvGRUCell(keras.layers.Layer):
    """Convolutional GRU; `residual` adds a 1x1 projection of the input to the output
    (the residual GRU of Toderici et al. 2017). state = (h,)."""

    def __init__(self, units, stride=1, kernel=3, hidden_kernel=1, residual=False, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.residual = residual
        self.conv_x = _conv(3 * units, kernel, stride, name=f"{self.name}_x")
        self.conv_hzr = _conv(2 * units, hidden_kernel, name=f"{self.name}_hzr", use_bias=False)
        self.conv_hn = _conv(units, hidden_kernel, name=f"{self.name}_hn", use_bias=False)
        if residual:
            self.conv_o = _conv(units, 1, stride, name=f"{self.name}_o")

    def build(self, input_shape):
        pass  # the convolutions build on first use (the hidden ones from the second step)

    def call(self, x, state=None):
        gates = self.conv_x(x)
        if state is None:
            # Slices, not a split: a split's unused r output would stay float in an int8
            # TFLite model (the JPEG refiner's export), having no consumer to calibrate it.
            u = self.units
            h = tf.sigmoid(gates[..., :u]) * tf.tanh(gates[..., 2 * u:])
        else:
            zx, rx, nx = tf.split(gates, 3, axis=-1)
            (h_prev,) = state
            zh, rh = tf.split(self.conv_hzr(h_prev), 2, axis=-1)
            z = tf.sigmoid(zx + zh)
            r = tf.sigmoid(rx + rh)
            n = tf.tanh(nx + self.conv_hn(r * h_prev))
            h = (1.0 - z) * h_prev + z * n
        out = h + self.conv_o(x) if self.residual else h
        return out, (h,)


def _make_cell(config, units, stride, hidden_kernel, name):
    if config.cell == "lstm":
        return ConvLSTMCell(units, stride, 3, hidden_kernel, name=name)
    return ConvGRUCell(units, stride, 3, hidden_kernel, residual=config.cell == "resgru", name=name)


# ----------------------------------------------------------------------------- binarizer


def binarize(x, training):
    """tanh outputs in (-1, 1) -> bits in {-1, +1}.

    Training: +1 with probability (1 + x) / 2 (unbiased), gradient of the identity.
    Inference: the sign, with 0 -> +1.
    """
    if training:
        u = random_uniform(tf.shape(x), 0.0, 1.0, dtype=x.dtype)

        @tf.custom_gradient
        def stochastic_sign(v):
            # exactly +-1 forward (x + stop_gradient(s - x) would round to 0.99999994)
            return tf.where(u < (1.0 + v) / 2.0, 1.0, -1.0), lambda dy: dy

        return stochastic_sign(x)
    return tf.where(x >= 0.0, 1.0, -1.0)


# ----------------------------------------------------------------------------- model


@keras.saving.register_keras_serializable("tfcodec")
class RecurrentModel(keras.Model):
    """Toderici et al.'s progressive codec: LSTM / GRU / residual GRU, one-shot or additive."""

    def __init__(self, config: RecurrentConfig, **kwargs):
        super().__init__(**kwargs)
        if isinstance(config, dict):
            config = RecurrentConfig.from_dict(config)
        self.config = c = config
        self.stem = _conv(c.stem_filters, 3, 2, name="encoder_stem")
        self.encoder_cells = [
            _make_cell(c, units, 2, k, f"encoder_rnn{i + 1}")
            for i, (units, k) in enumerate(zip(c.encoder_units, c.encoder_hidden_kernel))]
        # Pinned to float32 under a mixed policy: the bits, the reconstruction (hence
        # the residual the next iteration sees) and the bit probabilities.
        self.binarizer = _conv(c.bits, 1, name="binarizer", dtype="float32")
        self.decoder_stem = _conv(c.decoder_stem, 1, name="decoder_stem")
        self.decoder_cells = [
            _make_cell(c, units, 1, k, f"decoder_rnn{i + 1}")
            for i, (units, k) in enumerate(zip(c.decoder_units, c.decoder_hidden_kernel))]
        self.decoder_out = _conv(3, 1, name="decoder_out", dtype="float32")
        layers = []
        for i, width in enumerate(c.prob_hidden):
            layers += [_conv(width, 3, name=f"prob_conv{i}", dtype="float32"),
                       keras.layers.ReLU(name=f"prob_relu{i}", dtype="float32")]
        layers.append(_conv(c.bits, 1, name=f"prob_conv{len(c.prob_hidden)}", dtype="float32"))
        self.prob_net = keras.Sequential(layers, name="prob_net")
        # tf.train.Checkpoint (the training loop's) does not see layers held in
        # Python lists, nor those of a Sequential built by calling it: name each
        # one as an attribute so that checkpoints hold every variable.
        for cell in self.encoder_cells + self.decoder_cells:
            setattr(self, cell.name, cell)
        for layer in layers:
            if layer.weights or isinstance(layer, keras.layers.Conv2D):
                setattr(self, layer.name, layer)

    def get_config(self):
        return {"config": self.config.to_json()}

    @classmethod
    def from_config(cls, config):
        return cls(RecurrentConfig.from_dict(json.loads(config["config"])))

    # -- one iteration, shared with the coding path -------------------------

    def encode_step(self, residual, states, training=False):
        """Residual (centred, (B, H, W, 3)) -> (bits (B, H/16, W/16, C), new encoder states)."""
        h = self.stem(residual)
        new_states = []
        for i, cell in enumerate(self.encoder_cells):
            h, s = cell(h, None if states is None else states[i])
            new_states.append(s)
        return binarize(tf.tanh(self.binarizer(h)), training), new_states

    def decode_step(self, bits, states):
        """Bits -> (decoder output (B, H, W, 3), new decoder states)."""
        h = self.decoder_stem(bits)
        new_states = []
        for i, cell in enumerate(self.decoder_cells):
            h, s = cell(h, None if states is None else states[i])
            new_states.append(s)
            h = tf.nn.depth_to_space(h, 2)
        return self.decoder_out(h), new_states

    def combine(self, previous, output):
        """x_hat_t (centred) from x_hat_{t-1} and the decoder's output."""
        if self.config.reconstruction == "additive" and previous is not None:
            return previous + output
        return output

    # -- bit probabilities ---------------------------------------------------

    def context_planes(self, all_bits, t, second_pass):
        """TF twin of `context_planes_np` for training, given the list of every iteration's bits."""
        c = self.config
        current = all_bits[t]
        zeros = tf.zeros_like(current)
        slots = [all_bits[t - 1 - s] if t - 1 - s >= 0 else zeros for s in range(c.iterations - 1)]
        shape = tf.shape(current)
        anchors = current * _checkerboard_tf(shape[1], shape[2]) if second_pass else zeros
        onehot = tf.one_hot(tf.fill(shape[:3], t), c.iterations, dtype=current.dtype)
        flag = tf.fill(tf.concat([shape[:3], [1]], 0), 1.0 if second_pass else 0.0)
        return tf.concat(slots + [anchors, onehot, flag], axis=-1)

    def bit_cross_entropy(self, all_bits):
        """Ideal code length in bits (summed over positions and channels) per iteration and image, (T, B)."""
        bits = [tf.stop_gradient(b) for b in all_bits]
        shape = tf.shape(bits[0])
        grid = _checkerboard_tf(shape[1], shape[2])
        out = []
        for t in range(len(bits)):
            planes = tf.concat([self.context_planes(bits, t, False), self.context_planes(bits, t, True)], 0)
            logits_a, logits_b = tf.split(self.prob_net(planes), 2, axis=0)
            logits = logits_a * grid + logits_b * (1.0 - grid)
            ce = tf.nn.softplus(-bits[t] * logits)
            out.append(tf.reduce_sum(ce, axis=(1, 2, 3)))
        return tf.stack(out) / math.log(2.0)

    # -- training -------------------------------------------------------------

    def call(self, inputs, training=False):
        x, quality = inputs
        return self.forward(x, quality, training=training)

    def run(self, x, training=False, iterations=None):
        """Every iteration on x in [0, 1]: lists of bits and reconstructions (in [0, 1])."""
        iterations = iterations or self.config.iterations
        target = x - 0.5
        residual, enc_states, dec_states, x_hat = target, None, None, None
        all_bits, x_hats = [], []
        for _ in range(iterations):
            bits, enc_states = self.encode_step(residual, enc_states, training)
            output, dec_states = self.decode_step(bits, dec_states)
            x_hat = self.combine(x_hat, output)
            residual = target - x_hat
            all_bits.append(bits)
            x_hats.append(x_hat + 0.5)
        return all_bits, x_hats

    def forward(self, x, quality=None, training=True):
        """x in [0, 1], (B, H, W, 3). Returns the last reconstruction and every one."""
        _, x_hats = self.run(x, training)
        return {"x_hat": x_hats[-1], "x_hats": x_hats}

    def rd_loss(self, x, quality=None, training=True):
        """Per-image loss: the distortion of every iteration summed (mean |x - x_hat_t|,
        or `losses.msssim_log_loss`; weighted by `iteration_weights` if given), plus the
        bit net's cross-entropy (stop-gradient: it trains only the probability net)."""
        all_bits, x_hats = self.run(x, training)
        if self.config.distortion == "msssim":
            per_iteration = [msssim_log_loss(x, xh) for xh in x_hats]
        else:
            per_iteration = [tf.reduce_mean(tf.abs(x - xh), axis=(1, 2, 3)) for xh in x_hats]
        if self.config.iteration_weights:
            per_iteration = [w * d for w, d in zip(self.config.iteration_weights, per_iteration)]
        distortion = tf.add_n(per_iteration)
        pixels = tf.cast(tf.shape(x)[1] * tf.shape(x)[2], tf.float32)
        bpp = tf.reduce_sum(self.bit_cross_entropy(all_bits), axis=0) / pixels
        loss = distortion + self.config.ce_weight * bpp
        mse = tf.reduce_mean(tf.square(tf.clip_by_value(x_hats[-1], 0.0, 1.0) - x), axis=(1, 2, 3)) * 255.0**2
        return loss, {"bpp": bpp, "mse": mse, "x_hat": x_hats[-1], "distortion": distortion}


def architecture(config):
    """The config less its training objective (distortion, weights, rate term), which
    weights trained under one objective carry over to another unchanged."""
    return dataclasses.replace(config, distortion="l1", iteration_weights=(), ce_weight=0.0)


def adapt_iterations(weights, source, target):
    """Weights trained with `source.iterations` for a model with `target.iterations`
    (the architectures otherwise equal), keyed as in a bundle.

    Every layer is shared across iterations except the probability net's first
    convolution, whose input planes depend on the count (`context_planes`). Its
    kernel is laid out again so that the new model predicts exactly as the old
    one for the iterations both have: the slots of earlier iterations keep their
    weights (slots the old model lacked get zeros; they only ever hold bits of
    iterations it never had), so do the anchors and the pass flag, and iteration
    t's one-hot weight is the old t's, or the old last one's beyond it. Training
    then takes it from there; nothing the old model learnt is thrown away.
    """
    if dataclasses.replace(architecture(source), iterations=target.iterations) != architecture(target):
        raise ValueError("only the number of iterations may differ between the two models")
    key = next(k for k in weights if k.endswith("prob_net/prob_conv0/kernel"))
    old = np.asarray(weights[key])
    if old.shape[2] != source.context_channels:
        raise ValueError(f"{key} has {old.shape[2]} input planes, {source.iterations} "
                         f"iterations make {source.context_channels}")
    b, t_old, t_new = source.bits, source.iterations, target.iterations
    new = np.zeros(old.shape[:2] + (target.context_channels,) + old.shape[3:], old.dtype)
    slots = min(t_old, t_new) - 1
    new[:, :, :slots * b] = old[:, :, :slots * b]
    anchors_old, anchors_new = (t_old - 1) * b, (t_new - 1) * b
    new[:, :, anchors_new:anchors_new + b] = old[:, :, anchors_old:anchors_old + b]
    onehot_old, onehot_new = anchors_old + b, anchors_new + b
    for t in range(t_new):
        new[:, :, onehot_new + t] = old[:, :, onehot_old + min(t, t_old - 1)]
    new[:, :, -1] = old[:, :, -1]  # the pass flag
    return dict(weights, **{key: new})


def _checkerboard_tf(height, width):
    i = tf.range(height)[:, None]
    j = tf.range(width)[None, :]
    return tf.cast(tf.equal((i + j) % 2, 0), tf.float32)[None, :, :, None]


def build(name, config):
    """A built model (every variable created) of `config`, named after `name`."""
    model = RecurrentModel(config, name=name.replace("-", "_"))
    # Two iterations create every variable (the hidden convolutions build on the
    # second step) in the order the full loss would; then the probability net.
    # A quarter of the eager work of running the whole loss: loading a codec waits on it.
    all_bits, _ = model.run(tf.zeros((1, STRIDE * 2, STRIDE * 2, 3)), training=False,
                            iterations=min(2, model.config.iterations))
    model.prob_net(model.context_planes(all_bits, 0, False))
    return model


def warm_start_weights(model, bundle):
    """A recurrent bundle's Keras weights for `model`: trained with another number of
    iterations, they are laid out for this model's (`adapt_iterations`)."""
    from absl import logging

    from tfcodec.models import bundle_config

    source, target = bundle_config(bundle), model.config
    if source.iterations == target.iterations:
        return bundle.keras
    logging.info("initial weights: %d iterations laid out for %d", source.iterations, target.iterations)
    return adapt_iterations(bundle.keras, source, dataclasses.replace(source, iterations=target.iterations))
