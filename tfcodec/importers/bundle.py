"""An imported Keras model -> a tfcodec weights bundle, the same for every source.

The Keras weights are stored as float32 (trained bundles store float16): an
import must compute its source's model, not a rounding of it. The coding arrays
are those of any tfcodec model (`codecs.hyperprior.build_coding_arrays`): the
same range-coder tables and integer entropy-parameter nets, so an imported
model's streams decode identically in TF, LiteRT and Java. The integer nets'
fixed-point ranges are calibrated on hyper-latents drawn from the model's own
prior, so an import needs no images; a folder of training images
(`calibration_folder`) adds crops of real photos.
"""

import json

import numpy as np

from tfcodec.errors import FormatError

# GDN's reparameterisation (Ballé's, in TFC, CompressAI and tfcodec alike): a value v is
# stored as p = sqrt(v + PEDESTAL) and read back as max(p, sqrt(minimum + PEDESTAL))^2 - PEDESTAL.
PEDESTAL = 2.0**-36
BETA_MIN = 1e-6

# Hyper-latents drawn from the prior for calibration: how many, and their size.
PRIOR_SAMPLES, PRIOR_SAMPLE_SIZE = 8, 24


def prior_samples(model, count=PRIOR_SAMPLES, size=PRIOR_SAMPLE_SIZE, seed=0):
    """`count` arrays (1, size, size, C) of z drawn from the model's factorized prior,
    about its bin centres (what the hyper-synthesis sees on decoding)."""
    c = model.config
    centres = model.z_offset.numpy().astype(np.float64) if c.z_offsets else np.zeros(c.hyper_channels)
    support = np.arange(-64, 65)
    pmf = np.maximum(model.hyper_prior.pmf_numpy(support, centres), 0)
    pmf /= pmf.sum(axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(count):
        z = np.stack([rng.choice(support, size=(size, size), p=p) for p in pmf], axis=-1) + centres
        samples.append(z[None].astype(np.float32))
    return samples


def reparameterised(stored, minimum):
    """The value of a reparameterised GDN parameter as stored by TFC or CompressAI."""
    bound = (minimum + PEDESTAL) ** 0.5
    return np.maximum(np.asarray(stored, np.float64), bound) ** 2 - PEDESTAL


def assign(variable, value, what):
    """variable = value, or a FormatError naming `what` when the shapes differ."""
    value = np.asarray(value, np.float32)
    if tuple(variable.shape) != value.shape:
        raise FormatError(f"{what}: shape {value.shape} does not fit {variable.path} {tuple(variable.shape)}")
    variable.assign(value)


def assign_gdn(layer, stored_beta, stored_gamma, what, transpose_gamma=False):
    """A tfcodec GDN layer given the source's stored beta and gamma (`transpose_gamma`:
    gamma[i, j] weighs input j in channel i's norm, tfcodec's the other way round)."""
    beta = reparameterised(stored_beta, BETA_MIN)
    gamma = reparameterised(stored_gamma, 0.0)
    assign(layer.beta_stored, np.sqrt(beta + PEDESTAL), f"{what} beta")
    assign(layer.gamma_stored, np.sqrt((gamma.T if transpose_gamma else gamma) + PEDESTAL), f"{what} gamma")


def save_imported(model, name, out, source, calibration_folder=None, calibration_images=16):
    """Writes `model` (weights assigned) as the bundle `out`; `source`: where it came
    from, kept in the bundle's meta. Returns the meta."""
    from tfcodec.codecs.hyperprior import build_coding_arrays
    from tfcodec.weights import keras_weights_of, save_bundle

    images = []
    if calibration_folder:
        from tfcodec.images import calibration_crops

        images = calibration_crops(calibration_folder, calibration_images)
    coding = build_coding_arrays(model, images, qualities=(1.0,), z_samples=prior_samples(model))
    meta = {"model": name, "family": "hyperprior", "config": json.loads(model.config.to_json()),
            "imported_from": source}
    save_bundle(out, meta, keras_weights_of(model, np.float32), coding)
    return meta
