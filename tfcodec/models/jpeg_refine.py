"""The hybrid neural decoder: a JPEG decoded as usual, then refined by a recurrent network.

The encoder is a standard JPEG (every camera and phone has one in hardware);
the receiver decodes the same bytes with libjpeg and runs this network on the
result. K steps of one recurrent cell, weights shared, each add a residual
correction to the previous estimate:

    x_0 = jpeg        h_t, d_t = Cell(F, x_{t-1}, h_{t-1})        x_t = x_{t-1} + d_t

F is computed once from the JPEG and what the file says about its coding:
- the quantisation tables and chroma subsampling (`tfcodec.jpegfile.table_features`):
  one model serves every quality, since the tables say how coarse each
  frequency was coded. They modulate the features (FiLM: a scale and shift per
  channel from a small dense net), at the trunk's input and at the cell's.
- the phase of the 8x8 block grid (and of the 16x16 MCU of 4:2:0 chroma):
  artefacts sit on block edges, and a convolution cannot tell where those are
  from content alone. Sine/cosine planes of the position in the block and MCU.

The network works at half resolution (a space-to-depth step of 2: 4:2:0
chroma lives there) with a quarter-resolution branch for a wide view (low
qualities smear a 16x16 MCU), so it is cheap enough for a CPU. The cell is
the recurrent codec's ConvGRU (`tfcodec.models.recurrent.ConvGRUCell`) with
3x3 hidden convolutions; its state carries what earlier steps found.

Training: every step's estimate is scored (mean squared error, each step
weighted by `iteration_weights`), so a decode may stop after any step and
later steps learn to improve on earlier ones. The JPEG itself comes from the
input pipeline (`tfcodec.train.jpeg_degrade`, real libjpeg at random
qualities), not from this graph.
"""

import json
import math

import keras
import tensorflow as tf

from tfcodec.jpegfile import CONDITIONING_SIZE
from tfcodec.models.config import JPEG_REFINE_STRIDE, JpegRefineConfig
from tfcodec.models.recurrent import ConvGRUCell


def _conv(filters, kernel=3, stride=1, name=None, kernel_initializer="glorot_uniform"):
    return keras.layers.Conv2D(filters, kernel, strides=stride, padding="same", name=name,
                               kernel_initializer=kernel_initializer)


@keras.saving.register_keras_serializable("tfcodec")
class ResidualBlock(keras.layers.Layer):
    """x + conv(relu(conv(x))): two 3x3 convolutions around a shortcut."""

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.first = _conv(filters, name=f"{self.name}_a")
        self.second = _conv(filters, name=f"{self.name}_b")

    def call(self, x):
        return x + self.second(tf.nn.relu(self.first(x)))


def phase_planes(height, width, phase):
    """(B, height, width, 8) planes at half resolution: cos and sin of each position's place
    in its 8x8 block (period 4 here) and 16x16 MCU (period 8), for rows and columns.

    `phase` (B, 2) int: the full-resolution (row, column) of pixel (0, 0) in the MCU grid,
    even (0 for a whole image, whose grid starts at its corner)."""
    phase = tf.cast(phase, tf.float32) / 2.0
    rows = tf.range(tf.cast(height, tf.float32))[None, :] + phase[:, :1]
    cols = tf.range(tf.cast(width, tf.float32))[None, :] + phase[:, 1:]
    planes = []
    for period in (4.0, 8.0):
        for positions, expand in ((rows, lambda v: v[:, :, None]), (cols, lambda v: v[:, None, :])):
            angle = 2.0 * math.pi * positions / period
            for wave in (tf.cos(angle), tf.sin(angle)):
                planes.append(tf.broadcast_to(expand(wave), tf.stack([tf.shape(phase)[0], height, width])))
    return tf.stack(planes, axis=-1)


@keras.saving.register_keras_serializable("tfcodec")
class JpegRefineModel(keras.Model):
    """A recurrent refiner of decoded JPEGs, conditioned on the file's tables (module docstring)."""

    def __init__(self, config: JpegRefineConfig, **kwargs):
        super().__init__(**kwargs)
        if isinstance(config, dict):
            config = JpegRefineConfig.from_dict(config)
        self.config = c = config
        f = c.filters
        self.condition_hidden = keras.layers.Dense(64, activation="relu", name="condition_hidden")
        # FiLM: (scale, shift) for the stem and for the cell's input; zero-initialised, so
        # training starts from the unmodulated network.
        self.condition_out = keras.layers.Dense(4 * f, kernel_initializer="zeros", name="condition_out")
        self.stem = _conv(f, name="stem")
        self.trunk = [ResidualBlock(f, name=f"trunk{i}") for i in range(c.trunk_blocks)]
        self.down = _conv(f, stride=2, name="down")
        self.coarse = [ResidualBlock(f, name=f"coarse{i}") for i in range(c.coarse_blocks)]
        self.up = _conv(4 * f, name="up")
        self.cell_input = _conv(f, name="cell_input")
        self.cell = ConvGRUCell(f, kernel=3, hidden_kernel=3, name="cell")
        # Zero-initialised: the untrained model returns the JPEG itself.
        self.correction = _conv(12, kernel_initializer="zeros", name="correction")
        # tf.train.Checkpoint does not see layers held in Python lists: name each one.
        for block in self.trunk + self.coarse:
            setattr(self, block.name, block)

    def get_config(self):
        return {"config": self.config.to_json()}

    @classmethod
    def from_config(cls, config):
        return cls(JpegRefineConfig.from_dict(json.loads(config["config"])))

    def features(self, jpeg, conditioning, planes):
        """F, computed once per image, and the cell-input FiLM: (F, (scale, shift)).
        `planes`: the `phase_planes` at half resolution."""
        film = tf.split(self.condition_out(self.condition_hidden(conditioning)), 4, axis=-1)
        stem_scale, stem_shift, cell_scale, cell_shift = (v[:, None, None, :] for v in film)
        half = tf.nn.space_to_depth(jpeg - 0.5, 2)
        h = tf.nn.relu(self.stem(tf.concat([half, planes], axis=-1)))
        h = h * (1.0 + stem_scale) + stem_shift
        for block in self.trunk:
            h = block(h)
        wide = self.down(h)
        for block in self.coarse:
            wide = block(wide)
        h = h + tf.nn.depth_to_space(self.up(wide), 2)
        return h, (cell_scale, cell_shift)

    def run(self, inputs, iterations=None, planes=None):
        """Every step's estimate of the image, in [0, 1] scale (unclipped): a list of K.
        `planes`, if given, replaces the phase planes of inputs["phase"] (an export's)."""
        jpeg, conditioning = inputs["jpeg"], inputs["conditioning"]
        if planes is None:
            shape = tf.shape(jpeg)
            planes = phase_planes(shape[1] // 2, shape[2] // 2, inputs["phase"])
        features, (scale, shift) = self.features(jpeg, conditioning, planes)
        estimate, state, estimates = jpeg, None, []
        for _ in range(iterations or self.config.iterations):
            x = self.cell_input(tf.concat([features, tf.nn.space_to_depth(estimate - 0.5, 2)], axis=-1))
            x = tf.nn.relu(x) * (1.0 + scale) + shift
            h, state = self.cell(x, state)
            estimate = estimate + tf.nn.depth_to_space(self.correction(h), 2)
            estimates.append(estimate)
        return estimates

    def call(self, inputs, training=False):
        return self.run(inputs)[-1]

    # -- the training loop's interface (tfcodec.train.loop) -----------------------

    def forward(self, example, quality=None, training=False):
        """The last step's estimate; `quality` is unused (the JPEG's own tables say it)."""
        return {"x_hat": self.run(example)[-1]}

    def rd_loss(self, example, quality=None, training=True):
        """Per-image loss: each step's mean squared error on [0, 1], weighted. The "bpp" the
        loop logs is the JPEG's own (its size over the crop), not something this model pays."""
        target = example["image"]
        estimates = self.run(example)
        weights = self.config.iteration_weights or (1.0,) * len(estimates)
        errors = [tf.reduce_mean(tf.square(e - target), axis=(1, 2, 3)) for e in estimates]
        loss = tf.add_n([w * e for w, e in zip(weights, errors)]) / float(sum(weights))
        last = tf.clip_by_value(estimates[-1], 0.0, 1.0)
        mse = tf.reduce_mean(tf.square(tf.round(last * 255.0) - target * 255.0), axis=(1, 2, 3))
        return loss, {"bpp": example["bpp"], "mse": mse, "x_hat": last, "distortion": loss}


def build(name, config):
    """A built model (every variable created) of `config`, named after `name`."""
    model = JpegRefineModel(config, name=name.replace("-", "_"))
    size = JPEG_REFINE_STRIDE
    # Called through Keras (which then counts the model as built, as the export needs): every
    # step runs, the second creating the cell's hidden convolutions.
    model({"jpeg": tf.zeros((1, size, size, 3)), "conditioning": tf.zeros((1, CONDITIONING_SIZE)),
           "phase": tf.zeros((1, 2), tf.int32)})
    return model


def warm_start_weights(model, bundle):
    """A jpeg-refine bundle's Keras weights, as they are (the iterations share every weight)."""
    return bundle.keras
