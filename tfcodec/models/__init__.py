"""Model registry: names users pass to --model, mapped to architectures."""

from tfcodec.models.config import CONFIGS, HyperpriorConfig


def build_model(name):
    """A fresh, built model for a registered name."""
    if name in CONFIGS:
        import tensorflow as tf

        from tfcodec.models.hyperprior import HyperpriorCodec

        model = HyperpriorCodec(CONFIGS[name], name=name.replace("-", "_"))
        model.forward(tf.zeros((1, 64, 64, 3)), tf.zeros((1,)), training=False)
        return model
    raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(CONFIGS))}")


__all__ = ["CONFIGS", "HyperpriorConfig", "build_model"]
