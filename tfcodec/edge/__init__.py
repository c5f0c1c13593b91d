"""The edge runtime: tfcodec streams with LiteRT and numpy, without TensorFlow.

    tfcodec edge compress photo.png photo.tfc --models DIR --quality 0.5
    tfcodec edge decompress photo.tfc photo.png --models DIR

    from tfcodec.edge import EdgeCodec
    codec = EdgeCodec("DIR")          # a folder written by tfcodec export
    data = codec.compress(rgb, 0.5)
    rgb = codec.decompress(data)

`EdgeCodec` is the hyperprior pipeline (`tfcodec.codecs.hyperprior`) on the
LiteRT backend (`tfcodec.edge.litert_backend`). Imports: numpy, ai_edge_litert
(or tflite_runtime), Pillow for image files, and tfcodec's numpy modules
(container, rangecoder, images, codecs.hyperprior/latent_coding,
entropy.integer_net/tables, fileio). Streams are interchangeable with the TF
coder's (`tfcodec compress/decompress`); see docs/edge.md.
"""

from tfcodec.edge.codec import EdgeCodec, gain_vector

__all__ = ["EdgeCodec", "gain_vector"]
