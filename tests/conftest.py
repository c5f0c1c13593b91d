import os
import sys
import tempfile

# Tests import their helpers (tiny_models) by name.
sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Folders given to training are prepared as tfds datasets in the data dir: never the user's.
os.environ.setdefault("TFDS_DATA_DIR", tempfile.mkdtemp(prefix="tfcodec-tests-tfds-"))
# LiteRT exports of non-shipped weights (tfcodec.edge.exports) are cached here: never the user's.
os.environ.setdefault("TFCODEC_CACHE", tempfile.mkdtemp(prefix="tfcodec-tests-cache-"))
