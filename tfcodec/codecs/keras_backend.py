"""The hyperprior pipeline's TensorFlow backend: the Keras model's transforms, run as tf.functions.

A backend runs roles and holds no codec logic (`tfcodec.codecs.hyperprior` is
the codec). Here the analysis (times the quality's gain) and the synthesis (of
the latent times the inverse gain) run in tiles of `tiling.TILE_PIXELS`, which
bounds memory on large photos; the hyper-analysis and the latent residual
prediction, 1/16 and 1/256 of the pixels, run whole. Latent refinement needs
gradients through the model, so only this backend has it.
"""

import tensorflow as tf

from tfcodec import tiling


def _quality(quality):
    return tf.constant([quality], tf.float32)


class KerasBackend:
    """The roles of a Keras hyperprior model, numpy (h, w, c) in and out."""

    def __init__(self, model):
        self.model = model
        self.config = model.config
        self._refiner = None

        @tf.function(input_signature=[tf.TensorSpec((1, None, None, 3), tf.float32),
                                      tf.TensorSpec((1,), tf.float32)])
        def analyse(x, quality):
            gain, _ = model.gains(quality)
            return model.analysis(x) * gain[:, None, None, :]

        @tf.function(input_signature=[tf.TensorSpec((1, None, None, self.config.latent_channels),
                                                    tf.float32)])
        def hyper_analyse(y):
            return model.hyper_analysis(y)

        @tf.function(input_signature=[tf.TensorSpec((1, None, None, None), tf.float32),
                                      tf.TensorSpec((1,), tf.float32)])
        def synthesise(y_hat, quality):
            _, inverse_gain = model.gains(quality)
            return model.synthesis(y_hat * inverse_gain[:, None, None, :])

        self._analyse = analyse
        self._hyper_analyse = hyper_analyse
        self._synthesise = synthesise

    @classmethod
    def from_bundle(cls, bundle):
        from tfcodec.models import model_from_bundle

        return cls(model_from_bundle(bundle))

    def analyse(self, x, quality):
        """Padded image (H, W, 3) in [0, 1] -> y * gain (H/16, W/16, M)."""
        q = _quality(quality)
        return tiling.run_tiled(lambda part: self._analyse(part[None], q)[0], x,
                                tiling.default_tile("analysis"), tiling.ANALYSIS)

    def hyper_analyse(self, y):
        return self._hyper_analyse(y[None])[0].numpy()

    def lrp(self, i, context):
        """Slice i's latent residual from its context (mean features, then slices 0..i)."""
        # The context is already concatenated: latent_residual adds no decoded slices to it.
        return self.model.latent_residual(i, tf.constant(context[None]), [])[0].numpy()

    def synthesise(self, y_hat, quality):
        """Corrected latent (h, w, M) -> image (16h, 16w, 3), through the inverse gain."""
        q = _quality(quality)
        return tiling.run_tiled(lambda part: self._synthesise(part[None], q)[0], y_hat,
                                tiling.default_tile("synthesis"), tiling.SYNTHESIS)

    def refine(self, x, y, z, quality, height, width, steps, progress=None):
        """(y, z) refined by `steps` gradient steps on the model's objective (`tfcodec.codecs.refine`)."""
        from tfcodec.codecs.refine import LatentRefiner

        if self._refiner is None:
            self._refiner = LatentRefiner(self.model)
        y, z = self._refiner.refine(tf.constant(x[None]), y[None], z[None], _quality(quality),
                                    height, width, steps, progress=progress)
        return y[0], z[0]
