"""Model registry: the names users pass to --model, mapped to architectures.

Each family registers a builder ``name -> built keras model``. A built model
offers ``rd_loss(x, quality, training)`` and ``forward(x, quality, training)``,
which is all the training loop needs.
"""

from tfcodec.models.config import CONFIGS, HyperpriorConfig

_BUILDERS = {}


def register_model(name, builder, family):
    """Adds a model name; `builder()` returns a fresh, built model."""
    _BUILDERS[name] = (builder, family)


def _hyperprior_builder(name):
    def build():
        import tensorflow as tf

        from tfcodec.models.hyperprior import HyperpriorCodec

        model = HyperpriorCodec(CONFIGS[name], name=name.replace("-", "_"))
        model.forward(tf.zeros((1, 64, 64, 3)), tf.zeros((1,)), training=False)
        return model
    return build


def register_hyperprior(name, config):
    """Adds a hyperprior architecture under a new name (e.g. a custom size)."""
    CONFIGS[name] = config
    register_model(name, _hyperprior_builder(name), "hyperprior")


for _name in list(CONFIGS):
    register_hyperprior(_name, CONFIGS[_name])


def _load_other_families():
    try:
        import tfcodec.models.recurrent  # noqa: F401  registers the recurrent names
    except ModuleNotFoundError as e:
        if not (e.name or "").startswith("tfcodec"):
            raise


def model_names():
    _load_other_families()
    return sorted(_BUILDERS)


def model_family(name):
    _load_other_families()
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(model_names())}")
    return _BUILDERS[name][1]


def build_model(name):
    """A fresh, built model for a registered name."""
    model_family(name)
    return _BUILDERS[name][0]()


__all__ = ["CONFIGS", "HyperpriorConfig", "build_model", "model_family", "model_names",
           "register_hyperprior", "register_model"]
