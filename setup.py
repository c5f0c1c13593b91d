"""tfcodec: learned image codecs in Keras 3 with real bitstreams and an edge runtime."""

from setuptools import Extension, find_packages, setup

# The TensorFlow versions tfcodec is tested on: 2.21 in CI, 2.20 (the newest TPU build) through
# tools/test_tf220.sh.
TENSORFLOW = "tensorflow>=2.20,<2.22"

setup(
    name="tfcodec",
    version="0.1.0",
    description="Learned image compression in TensorFlow/Keras 3: hyperprior and recurrent codecs, "
                "real bitstreams, training, evaluation and Edge TPU export.",
    long_description=open("README.md").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["tfcodec", "tfcodec.*"]),
    # weights/NAME.litert/: the shipped models' LiteRT float export, what `compress`/`decompress` run;
    # export/op_versions/: the op-version table of each runtime an export can target.
    package_data={"tfcodec": ["weights/*.npz", "weights/*.json", "weights/*.litert/*",
                              "export/op_versions/*.json"]},
    # TensorFlow is an extra, not a requirement: it comes as several builds that each install
    # the same `tensorflow` module (tensorflow, tensorflow-tpu), and a requirement on one of them
    # would put a second build over a TPU machine's. Pick one: [tf] (CPU, or GPUs with CUDA
    # installed), [gpu] (with NVIDIA's CUDA wheels) or [tpu]. See docs/training.md.
    install_requires=[
        "keras>=3.10",
        "tensorflow-datasets>=4.9",
        # tfds reads the checksums of catalog datasets through it on Python >= 3.11
        "importlib_resources",
        "absl-py",
        "numpy",
        "Pillow>=10",
        "tqdm",
        "tensorboard",
        # compress/decompress run the shipped models on LiteRT, without importing TensorFlow
        # (tfcodec.edge.exports); wheels for Linux x86-64/aarch64, macOS arm64 and Windows.
        "ai-edge-litert",
    ],
    extras_require={
        "tf": [TENSORFLOW],
        "gpu": [TENSORFLOW.replace("tensorflow", "tensorflow[and-cuda]")],
        # 2.20 is the newest TensorFlow with a TPU build; libtpu pinned to the release it names
        # as its minimum (its own requirement, ~=0.0.14, would take any later 0.0.x).
        "tpu": ["tensorflow-tpu==2.20.0", "libtpu==0.0.14"],
        "edge": ["numpy", "ai-edge-litert"],
        "eval": ["pillow-heif", "pillow-jxl-plugin", "matplotlib"],
        "dev": [TENSORFLOW, "pytest", "hypothesis", "scipy", "pillow-heif", "pillow-jxl-plugin", "matplotlib",
                "constriction", "ai-edge-litert", "nbclient", "ipykernel", "nbformat"],
    },
    entry_points={"console_scripts": ["tfcodec=tfcodec.cli:main"]},
    # The range coder's compiled path (docs/rangecoder.md). optional=True: where no C compiler
    # is at hand the build warns and goes on, and the numpy coder does everything.
    ext_modules=[Extension("tfcodec.rangecoder._native", ["tfcodec/rangecoder/_native.c"],
                           extra_compile_args=["-O2"], optional=True),
                 # The integer nets' Winograd transforms (tfcodec/entropy/integer_net.py), optional
                 # likewise: without them the nets take their numpy path, with the same results.
                 Extension("tfcodec.entropy._intconv", ["tfcodec/entropy/_intconv.c"],
                           extra_compile_args=["-O2"], optional=True)],
)
