"""Compress and decompress with an exported model folder: LiteRT + numpy, no TensorFlow.

`EdgeCodec` is the hyperprior pipeline (`tfcodec.codecs.hyperprior`) on the
LiteRT backend (`tfcodec.edge.litert_backend`): the TF coder's code from the
image to the strings and back, with the export's TFLite models for the
transforms. The stream is the TF coder's format, bit for bit in layout and in
the tables it selects: every table index comes from `LatentCoder`'s integer
arithmetic on the decoded symbols, never from a TFLite output, so a stream
decodes to the same latent symbols here and in `tfcodec decompress`. Only
pixels (synthesis, LRP) and the encoder's choice of y depend on the int8 models.
"""

from tfcodec.codecs.hyperprior import HyperpriorCodec
from tfcodec.edge.litert_backend import MANIFEST, SUPPORTED_FORMAT, LiteRTBackend, gain_vector

__all__ = ["EdgeCodec", "MANIFEST", "SUPPORTED_FORMAT", "gain_vector"]


class EdgeCodec(HyperpriorCodec):
    """compress/decompress with an export folder (see `python -m tfcodec.export`)."""

    def __init__(self, models_dir, num_threads=None, edgetpu=False, verify=True):
        backend = LiteRTBackend(models_dir, num_threads, edgetpu, verify)
        self.folder = models_dir
        self.manifest = backend.manifest
        # No super().__init__: that builds the TF backend from a weights bundle.
        self._init_pipeline(backend, backend.coding, self.manifest["model"],
                            bytes.fromhex(self.manifest["weights_hash"]))

    def model(self, role):
        """The TFLite model of a role, loaded on first use (an encoder never loads the decoder)."""
        return self.backend.model(role)
