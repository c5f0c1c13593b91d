"""Encoder-side latent refinement: better latents for the same decoder.

The analysis transform is amortised: one network guesses the latents of every
image. For one image the encoder can do better by descending the training
objective, rate + lambda * distortion, in the latents themselves (Campos et al.
2019, "Content adaptive optimization for neural image compression"; Yang et al.
2020, "Improving inference for neural image compression"). The decoder and the
stream format are unchanged, so a refined file decodes anywhere; the price is
encoder time, one forward and backward pass of the model per step.

The objective is the one the model trained on (uniform noise for the rate,
straight-through rounding for the decoder), whose gradient is informative;
descending through rounding alone raised the real loss in our trials. The
latents kept are those with the lowest rounded objective, the one the file
pays, among the analysis's and those seen every `CHECK_EVERY` steps.
"""

import math

import numpy as np

from tfcodec.models.gains import lambda_for_quality

DEFAULT_LEARNING_RATE = 0.003
# The noise objective drifts from the rounded one the file pays (at 300 steps
# the refined files were worse than at 100), so the rounded objective is
# checked this often and the best latents seen are kept.
CHECK_EVERY = 20


def settings_label(steps):
    """What fixes a refined file besides the weights: eval's cache key."""
    return f"refine={steps} lr={DEFAULT_LEARNING_RATE} best-of-{CHECK_EVERY}"


def _objective(model, x, y, z, quality, height, width, training):
    """Per-image rate (bpp) + lambda * MSE (0-255 scale) over the unpadded image."""
    import tensorflow as tf

    out = model.forward_latents(y, z, quality, training=training, revive_scales=False)
    error = out["x_hat"][:, :height, :width] - x[:, :height, :width]
    mse = tf.reduce_mean(tf.square(error)) * 255.0**2
    bpp = (out["y_bits"][0] + out["z_bits"][0]) / tf.cast(height * width, tf.float32)
    c = model.config
    return bpp + lambda_for_quality(quality[0], c.lambda_min, c.lambda_max) * mse


class LatentRefiner:
    """Adam on (y, z) under the training objective, for one model.

    The step is one tf.function over any image size (traced once per coder).
    Its noise is drawn from a seed and the step number, so the same image,
    quality and settings give the same file.
    """

    def __init__(self, model, learning_rate=DEFAULT_LEARNING_RATE, seed=0):
        import tensorflow as tf

        from tfcodec.ops import uniform_provider

        self.learning_rate = learning_rate
        self.seed = seed
        image = tf.TensorSpec((1, None, None, 3), tf.float32)
        c = model.config
        latent = tf.TensorSpec((1, None, None, c.latent_channels), tf.float32)
        hyper = tf.TensorSpec((1, None, None, c.hyper_channels), tf.float32)
        scalar_int = tf.TensorSpec((), tf.int32)
        scalar = tf.TensorSpec((), tf.float32)

        @tf.function(input_signature=[image, latent, hyper, latent, latent, hyper, hyper,
                                      tf.TensorSpec((1,), tf.float32), scalar, scalar_int,
                                      scalar_int, scalar_int, scalar_int])
        def step(x, y, z, m_y, v_y, m_z, v_z, quality, lr, t, height, width, seed):
            draws = []

            def keyed(shape, minval, maxval, dtype):
                draws.append(None)
                key = tf.stack([seed, t * 64 + len(draws)])
                return tf.random.stateless_uniform(shape, key, minval, maxval, dtype=dtype)

            with tf.GradientTape() as tape:
                tape.watch([y, z])
                with uniform_provider(keyed):
                    loss = _objective(model, x, y, z, quality, height, width, training=True)
            g_y, g_z = tape.gradient(loss, [y, z])
            step_number = tf.cast(t + 1, tf.float32)
            updated = []
            for value, grad, m, v in ((y, g_y, m_y, v_y), (z, g_z, m_z, v_z)):
                m = 0.9 * m + 0.1 * grad
                v = 0.999 * v + 0.001 * tf.square(grad)
                m_hat = m / (1.0 - 0.9**step_number)
                v_hat = v / (1.0 - 0.999**step_number)
                updated.append((value - lr * m_hat / (tf.sqrt(v_hat) + 1e-8), m, v))
            (y, m_y, v_y), (z, m_z, v_z) = updated
            return y, z, m_y, v_y, m_z, v_z

        @tf.function(input_signature=[image, latent, hyper, tf.TensorSpec((1,), tf.float32),
                                      scalar_int, scalar_int])
        def rounded_objective(x, y, z, quality, height, width):
            return _objective(model, x, y, z, quality, height, width, training=False)

        self._step = step
        self._rounded_objective = rounded_objective

    def refine(self, x, y, z, quality, height, width, steps, progress=None):
        """(y, z) refined for `steps` steps from the analysis's (y, z), as numpy.

        `progress`, if given, is called with the number of steps done.
        """
        import tensorflow as tf

        x, y0, z0 = (tf.convert_to_tensor(a, tf.float32) for a in (x, y, z))
        quality = tf.reshape(tf.cast(quality, tf.float32), (1,))
        h, w, seed = (tf.constant(int(v), tf.int32) for v in (height, width, self.seed))
        y, z = y0, z0
        m_y, v_y, m_z, v_z = (tf.zeros_like(a) for a in (y0, y0, z0, z0))
        best = (float(self._rounded_objective(x, y0, z0, quality, h, w)), y0, z0)
        for t in range(steps):
            # Cosine decay to zero: large moves first, then settle.
            lr = self.learning_rate * 0.5 * (1.0 + math.cos(math.pi * t / steps))
            y, z, m_y, v_y, m_z, v_z = self._step(
                x, y, z, m_y, v_y, m_z, v_z, quality, tf.constant(lr, tf.float32),
                tf.constant(t, tf.int32), h, w, seed)
            if (t + 1) % CHECK_EVERY == 0 or t + 1 == steps:
                cost = float(self._rounded_objective(x, y, z, quality, h, w))
                if np.isfinite(cost) and cost < best[0]:
                    best = (cost, y, z)
            if progress is not None:
                progress(t + 1)
        return best[1].numpy(), best[2].numpy()
