"""The model registry: one `Family` record per model family, and the names users pass to --model.

A family's record names everything that differs between families: its config
class and registered sizes, the Keras model builder, the bitstream codec, the
coding arrays `tfcodec export-weights` adds to a bundle, the warm start from
another bundle (`tfcodec train --init-weights`) and the edge exporter. Loading
a codec (`tfcodec.api`), training (`tfcodec.train.loop`), export-weights and
the edge export look the record up; none of them tests a family's name.

Adding a family: write its modules (config, Keras model, codec, coding arrays)
and add one `register_family(Family(...))` line at the bottom of this file.

Behaviours are "module:attribute" references, imported on first use: the
registry imports no TensorFlow, so `tfcodec info` and the edge runtime can
read it, and a family's TensorFlow code loads only when it is used.
"""

import dataclasses
import functools
import importlib

from tfcodec.errors import FormatError
from tfcodec.models.config import (HYPERPRIOR_CONFIGS, JPEG_REFINE_CONFIGS, RECURRENT_CONFIGS,
                                   HyperpriorConfig, JpegRefineConfig, RecurrentConfig)


@dataclasses.dataclass(frozen=True)
class Family:
    """What the rest of tfcodec needs to know of one model family (docs/architecture.md)."""

    name: str
    config_class: type
    configs: dict                # registered name -> config
    build: str                   # (name, config) -> a built Keras model
    codec: str                   # (bundle, refine_steps=0) -> a bitstream codec
    export_coding: str           # (model, calibration_folder, count, seed) -> (coding arrays, meta)
    warm_start: str              # (model, bundle) -> the bundle's Keras weights laid out for model
    edge_export: str = ""        # (weights, out_dir, options, progress) -> manifest; "": none
    variable_rate: bool = True   # one model for every quality in [0, 1]; False: rates by iterations
    stream_codec: bool = True    # writes .tfc streams; False: a JPEG refiner (`tfcodec enhance`)
    # Training examples other than plain crops: (config) -> fn(image uint8, key, patch) -> a
    # structure the model's rd_loss takes; and (config, quality) -> fn(crop in [0, 1]) for
    # validation. "": crops in [0, 1] (tfcodec.train.data.random_crop).
    training_example: str = ""
    validation_example: str = ""

    def load(self, field):
        """The callable a behaviour field refers to, imported now."""
        reference = getattr(self, field)
        if not reference:
            raise FormatError(f"the {self.name} family has no {field.replace('_', ' ')}")
        module, attribute = reference.split(":")
        return functools.reduce(getattr, attribute.split("."), importlib.import_module(module))


_FAMILIES = {}


def register_family(family):
    """Adds a family; its registered names must not collide with another family's."""
    for other in _FAMILIES.values():
        taken = set(other.configs) & set(family.configs)
        if taken and other.name != family.name:
            raise ValueError(f"{family.name}: names {sorted(taken)} belong to the {other.name} family")
    _FAMILIES[family.name] = family


def family_named(name, source="tfcodec"):
    """The record of a family by its name (a bundle's meta "family")."""
    if name not in _FAMILIES:
        raise FormatError(f"{source}: unknown model family {name!r}; known: {', '.join(sorted(_FAMILIES))}")
    return _FAMILIES[name]


def family_of(model_name):
    """The record of the family a registered model name belongs to."""
    for family in _FAMILIES.values():
        if model_name in family.configs:
            return family
    raise ValueError(f"unknown model {model_name!r}; known: {', '.join(model_names())}")


def register_model(name, config):
    """Adds a model name (e.g. a custom size) to the family of its config."""
    family = next((f for f in _FAMILIES.values() if isinstance(config, f.config_class)), None)
    if family is None:
        raise ValueError(f"no family has configs of type {type(config).__name__}")
    family.configs[name] = config


def model_names():
    return sorted(name for family in _FAMILIES.values() for name in family.configs)


def model_config(name):
    return family_of(name).configs[name]


def build_model(name):
    """A fresh, built model for a registered name."""
    family = family_of(name)
    return family.load("build")(name, family.configs[name])


def bundle_family(bundle):
    """The record of the family that wrote a weights bundle."""
    return family_named(bundle.meta.get("family"), bundle.path or bundle.model)


def bundle_config(bundle):
    """A bundle's architecture: the config it carries, else its registered name's."""
    family = bundle_family(bundle)
    if "config" in bundle.meta:
        return family.config_class.from_dict(bundle.meta["config"])
    if bundle.model in family.configs:
        return family.configs[bundle.model]
    raise FormatError(f"{bundle.path or bundle.model}: model {bundle.model!r} is not registered and "
                      "the bundle has no config")


def model_from_bundle(bundle):
    """A built Keras model holding a bundle's weights (its model need not be registered)."""
    from tfcodec.weights import assign_keras_weights

    model = bundle_family(bundle).load("build")(bundle.model, bundle_config(bundle))
    assign_keras_weights(model, bundle.keras, f"weights {bundle.path or bundle.model}")
    return model


register_family(Family(
    "hyperprior", HyperpriorConfig, HYPERPRIOR_CONFIGS,
    build="tfcodec.models.hyperprior:build", warm_start="tfcodec.models.hyperprior:warm_start_weights",
    codec="tfcodec.codecs.hyperprior:HyperpriorCodec", export_coding="tfcodec.codecs.hyperprior:export_coding",
    edge_export="tfcodec.export.exporter:export"))
register_family(Family(
    "recurrent", RecurrentConfig, RECURRENT_CONFIGS, variable_rate=False,
    build="tfcodec.models.recurrent:build", warm_start="tfcodec.models.recurrent:warm_start_weights",
    codec="tfcodec.codecs.recurrent:RecurrentCodec.from_bundle",
    export_coding="tfcodec.train.prob_net_fit:export_coding"))
register_family(Family(
    "jpeg-refine", JpegRefineConfig, JPEG_REFINE_CONFIGS,
    build="tfcodec.models.jpeg_refine:build", warm_start="tfcodec.models.jpeg_refine:warm_start_weights",
    codec="tfcodec.codecs.jpeg_refine:JpegRefiner.from_bundle", stream_codec=False,
    export_coding="tfcodec.codecs.jpeg_refine:export_coding",
    edge_export="tfcodec.export.jpeg_refine:export",
    training_example="tfcodec.train.jpeg_degrade:make_example_fn",
    validation_example="tfcodec.train.jpeg_degrade:validation_example"))

__all__ = ["Family", "HyperpriorConfig", "JpegRefineConfig", "RecurrentConfig", "build_model", "bundle_config",
           "bundle_family", "family_named", "family_of", "model_config", "model_from_bundle", "model_names",
           "register_family", "register_model"]
