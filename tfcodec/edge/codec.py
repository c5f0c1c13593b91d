"""Compress and decompress with an exported model folder: LiteRT + numpy, no TensorFlow.

`EdgeCodec` is the TF coder's pipeline (`tfcodec.codecs.hyperprior`) on the
LiteRT backend (`tfcodec.edge.litert_backend`). Every table index comes from
`LatentCoder`'s integer arithmetic, never from a TFLite output, so a stream
decodes to the same latent symbols here and in `tfcodec decompress`; only
pixels (synthesis, LRP) and the encoder's choice of y depend on the int8 models.
"""

from tfcodec.codecs.hyperprior import HyperpriorCodec
from tfcodec.edge.litert_backend import LiteRTBackend, gain_vector

__all__ = ["EdgeCodec", "gain_vector"]


class EdgeCodec(HyperpriorCodec):
    """compress/decompress with an export folder (see `tfcodec export`)."""

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
