"""Keras layers owned by tfcodec."""

from tfcodec.layers.gdn import GDN

__all__ = ["GDN"]
