"""tfcodec: learned image codecs in Keras 3, with real bitstreams and an edge runtime.

Importing the package is cheap and does not import TensorFlow, so the edge
runtime (``tfcodec.edge``) and the range coder run with numpy alone.
"""

from tfcodec.errors import FormatError

__version__ = "0.1.0"

__all__ = ["FormatError", "__version__"]
