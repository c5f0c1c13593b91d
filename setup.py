"""tfcodec: learned image codecs in Keras 3 with real bitstreams and an edge runtime."""

from setuptools import find_packages, setup

setup(
    name="tfcodec",
    version="0.1.0",
    description="Learned image compression in TensorFlow/Keras 3: hyperprior and recurrent codecs, "
                "real bitstreams, training, evaluation and Edge TPU export.",
    long_description=open("README.md").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["tfcodec", "tfcodec.*"]),
    package_data={"tfcodec": ["weights/*.npz", "weights/*.json"]},
    install_requires=[
        "tensorflow>=2.21",
        "keras>=3.10",
        "tensorflow-datasets>=4.9",
        "absl-py",
        "numpy",
        "Pillow>=10",
        "tqdm",
        "tensorboard",
    ],
    extras_require={
        "edge": ["numpy", "ai-edge-litert"],
        "eval": ["pillow-heif", "pillow-jxl-plugin", "matplotlib"],
        "dev": ["pytest", "hypothesis", "pillow-heif", "pillow-jxl-plugin", "matplotlib",
                "constriction", "ai-edge-litert", "nbclient", "ipykernel", "nbformat"],
    },
    entry_points={"console_scripts": ["tfcodec=tfcodec.cli:main"]},
)
