"""Which accelerator a run trains on, and the `tf.distribute` strategy for it.

One decision, made in one place (`choose`), for `tfcodec train --strategy auto`
and the notebooks alike. It reads the machine as files and environment
variables, so a test can lay out a TPU VM under a temporary root and check the
decision without one:

* TPU VMs: v2-v4 chips are `/dev/accel*`; v5e, v5p and v6e chips are VFIO
  groups `/dev/vfio/<n>`. A numbered VFIO group is also what any device handed
  to a VM looks like, so it counts as a TPU only beside a sign of one: a PCI
  device of Google's vendor id (0x1ae0) under `/sys/bus/pci/devices`, or the
  variables Cloud TPU VMs and Colab's TPU runtimes set (`TPU_ACCELERATOR_TYPE`,
  `TPU_WORKER_ID`, ...). A TPU VM is reached with the resolver target "local"
  (TensorFlow's own default, a name lookup through the Cloud TPU API, fails there).
* TPU nodes and pods: `--tpu NAME` or `--tpu grpc://HOST:8470`, or `TPU_NAME` /
  Colab's old `COLAB_TPU_ADDR` when no chip is local.
* GPUs: several -> MirroredStrategy, one -> the default strategy (TensorFlow places
  the step on it). Counted by TensorFlow when it is imported, else by the
  `/dev/nvidia<n>` files (the notebooks decide what to install before it is).
* A `TF_CONFIG` naming several tasks -> MultiWorkerMirroredStrategy.

The chips of v5e, v5p and v6e are reached by TensorFlow only through libtpu's
PJRT plugin, which three variables name before TensorFlow is imported
(`configure_tpu_runtime`, called by `tfcodec train` first thing); v2-v4 use
the older runtime, which those variables break, so they are set only beside
VFIO chips. (Keras's own TensorFlow TPU example for v5p/v6e sets the same
three; Google ships TensorFlow for these chips only as "-pjrt" images.)

When chips or GPUs are present but this TensorFlow cannot use them (no TPU
build, no CUDA), `auto` trains on the CPU and says why in one line, rather than
running for days on the host without a word.

`TFCODEC_DEVICE_ROOT` moves the root the device files are read under (the
notebook tests lay out a TPU VM there; a container may mount the host's /dev
and /sys elsewhere).
"""

import dataclasses
import glob
import importlib.util
import json
import os
import re

from absl import logging

STRATEGIES = ("auto", "default", "mirrored", "multiworker", "tpu")
# Steps per compiled call when --steps-per-execution is not given: an accelerator idles while
# the host starts a call and fetches its metrics, a CPU does not.
STEPS_PER_EXECUTION = {"tpu": 100, "gpu": 20, "cpu": 1}
# Set on Cloud TPU VMs and Colab's TPU runtimes (v2 through v6e).
TPU_VARIABLES = ("TPU_ACCELERATOR_TYPE", "TPU_WORKER_ID", "TPU_WORKER_HOSTNAMES", "TPU_SKIP_MDS_QUERY",
                 "TPU_CHIPS_PER_HOST_BOUNDS", "TPU_HOST_BOUNDS", "COLAB_TPU_1VM")
GOOGLE_PCI_VENDOR = "0x1ae0"
# Distributions that install the `tensorflow` module; two of them over each other break it.
TENSORFLOW_BUILDS = ("tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-tpu", "tensorflow-intel",
                     "tensorflow-macos", "tf-nightly", "tf-nightly-cpu", "tf-nightly-tpu")


@dataclasses.dataclass(frozen=True)
class Hardware:
    """What the machine has, read without TensorFlow."""

    tpu_chips: tuple = ()        # device files of local TPU chips
    tpu_pjrt: bool = False       # VFIO chips (v5e, v5p, v6e): reached through the PJRT plugin
    tpu_type: str = ""           # e.g. "v5litepod-8", "v6e-1", when the environment says
    tpu_remote: str = ""         # resolver target of a TPU node or pod named by the environment
    gpu_devices: tuple = ()      # /dev/nvidia<n>
    workers: int = 1             # tasks in TF_CONFIG's cluster

    @property
    def kind(self):
        """"tpu", "gpu" or "cpu": which TensorFlow build the machine wants ([tpu], [gpu], [tf])."""
        return "tpu" if self.tpu_chips or self.tpu_remote else "gpu" if self.gpu_devices else "cpu"


@dataclasses.dataclass(frozen=True)
class Choice:
    """The strategy to build: its name, the TPU resolver target, and why."""

    strategy: str                # default, mirrored, multiworker or tpu
    tpu: str = ""                # resolver target for "tpu": "local", a name or grpc://...
    device: str = "cpu"          # tpu, gpu or cpu: what trains
    description: str = ""        # one line for the log
    fallback: str = ""           # set when accelerator-like devices go unused: why

    @property
    def steps_per_execution(self):
        return STEPS_PER_EXECUTION[self.device]


def _path(root, path):
    return os.path.join(root, path.lstrip("/"))


def _numbered(root, pattern):
    found = [p for p in glob.glob(_path(root, pattern)) if re.search(r"\d+$", p)]
    return tuple(sorted(found, key=lambda p: int(re.search(r"(\d+)$", p).group(1))))


def _google_pci_device(root):
    for vendor in glob.glob(_path(root, "/sys/bus/pci/devices/*/vendor")):
        try:
            with open(vendor) as f:
                if f.read().strip().lower() == GOOGLE_PCI_VENDOR:
                    return True
        except OSError:
            continue
    return False


def _workers(environ):
    try:
        cluster = json.loads(environ.get("TF_CONFIG", "") or "{}").get("cluster", {})
    except (ValueError, AttributeError):
        return 1
    return max(1, sum(len(tasks) for tasks in cluster.values())) if isinstance(cluster, dict) else 1


def detect_hardware(root=None, environ=None):
    """The machine's accelerators as `Hardware`, from device files under `root` and `environ`."""
    environ = os.environ if environ is None else environ
    root = root or environ.get("TFCODEC_DEVICE_ROOT") or "/"
    chips = _numbered(root, "/dev/accel*")
    pjrt = False
    if not chips:
        vfio = _numbered(root, "/dev/vfio/*")
        if vfio and (any(environ.get(v) for v in TPU_VARIABLES) or _google_pci_device(root)):
            chips, pjrt = vfio, True
    remote = ""
    if not chips:
        if environ.get("COLAB_TPU_ADDR"):
            remote = "grpc://" + environ["COLAB_TPU_ADDR"]
        elif environ.get("TPU_NAME") and environ["TPU_NAME"] != "local":
            remote = environ["TPU_NAME"]
    return Hardware(tpu_chips=chips, tpu_pjrt=pjrt, tpu_type=environ.get("TPU_ACCELERATOR_TYPE", ""),
                    tpu_remote=remote, gpu_devices=_numbered(root, "/dev/nvidia[0-9]*"),
                    workers=_workers(environ))


def _libtpu_path():
    """The libtpu shared library of the installed `libtpu` package, or None."""
    spec = importlib.util.find_spec("libtpu")
    if spec is None or not spec.origin:
        return None
    try:
        import libtpu

        return libtpu.get_library_path()
    except (ImportError, AttributeError):
        return os.path.join(os.path.dirname(spec.origin), "libtpu.so")


def configure_tpu_runtime(hardware=None, environ=None, library=None):
    """On VFIO TPU chips (v5e, v5p, v6e), the variables that make TensorFlow load libtpu's
    PJRT plugin, set in `environ` (default os.environ) where the user has not set them.

    Must run before TensorFlow is imported; afterwards it only warns. Returns what it set.
    """
    import sys

    environ = os.environ if environ is None else environ
    hardware = detect_hardware(environ=environ) if hardware is None else hardware
    if not hardware.tpu_pjrt:
        return {}
    library = library or _libtpu_path()
    if library is None:
        return {}  # not a TPU build: `choose` says so
    wanted = {"PJRT_DEVICE": "TPU", "NEXT_PLUGGABLE_DEVICE_USE_C_API": "true",
              "TF_PLUGGABLE_DEVICE_LIBRARY_PATH": library}
    missing = {k: v for k, v in wanted.items() if k not in environ}
    if missing and "tensorflow" in sys.modules and environ is os.environ:
        logging.warning("TensorFlow was imported before %s were set: it may not see this machine's "
                        "TPU chips (import tfcodec.train.accelerators and call configure_tpu_runtime() "
                        "first, or use `tfcodec train`)", ", ".join(sorted(missing)))
    environ.update(missing)
    return missing


def installed_tensorflow_builds():
    """{distribution: version} of the installed TensorFlow builds (one, when all is well)."""
    from importlib import metadata

    found = {}
    for name in TENSORFLOW_BUILDS:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def tensorflow_gpus():
    """GPUs this TensorFlow can use."""
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU"))


def tensorflow_drives_tpus():
    """Whether this TensorFlow is a TPU build (tensorflow-tpu brings libtpu with it)."""
    return importlib.util.find_spec("libtpu") is not None


def choose(tpu="", hardware=None, gpus=None, tpu_support=None):
    """The `Choice` for `--strategy auto`, with `--tpu` (a name or grpc:// address) if given.

    `hardware`, `gpus` (how many TensorFlow sees) and `tpu_support` default to
    this machine's; tests pass their own.
    """
    hardware = detect_hardware() if hardware is None else hardware
    if tpu:
        return Choice("tpu", tpu, "tpu", f"TPU {tpu} (--tpu)")
    if hardware.workers > 1:
        return Choice("multiworker", device="gpu" if hardware.gpu_devices else "cpu",
                      description=f"{hardware.workers} workers (TF_CONFIG)")
    fallback = ""
    if hardware.tpu_chips:
        tpu_support = tensorflow_drives_tpus() if tpu_support is None else tpu_support
        what = f"TPU {hardware.tpu_type or 'VM'} ({len(hardware.tpu_chips)} chips: " \
               f"{', '.join(hardware.tpu_chips)})"
        if tpu_support:
            return Choice("tpu", "local", "tpu", f"{what}, resolver target 'local'")
        fallback = (f"{what} found, but this TensorFlow is not a TPU build "
                    "(pip install 'tfcodec[tpu]', which replaces it with tensorflow-tpu)")
    elif hardware.tpu_remote:
        return Choice("tpu", hardware.tpu_remote, "tpu", f"TPU {hardware.tpu_remote} (from the environment)")
    gpus = tensorflow_gpus() if gpus is None else gpus
    if gpus > 1:
        return Choice("mirrored", device="gpu", description=f"{gpus} GPUs, mirrored")
    if gpus == 1:
        return Choice("default", device="gpu", description="1 GPU")
    if hardware.gpu_devices and not fallback:
        fallback = (f"{len(hardware.gpu_devices)} NVIDIA device(s) found, but TensorFlow sees no GPU "
                    "(a CPU-only build or missing CUDA libraries: pip install 'tfcodec[gpu]')")
    return Choice("default", description="CPU", fallback=fallback)


def choose_for(strategy, tpu=""):
    """The `Choice` for `--strategy NAME` (`auto` decides; the others are taken as asked)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}: {', '.join(STRATEGIES)}")
    if strategy == "auto":
        choice = choose(tpu)
        if choice.fallback:
            logging.warning("--strategy auto: training on the CPU: %s", choice.fallback)
        return choice
    if strategy == "tpu":
        if not tpu:
            hardware = detect_hardware()
            tpu = "local" if hardware.tpu_chips or not hardware.tpu_remote else hardware.tpu_remote
        return Choice("tpu", tpu, "tpu", f"TPU {tpu}")
    gpus = tensorflow_gpus()
    return Choice(strategy, device="gpu" if gpus else "cpu", description=f"{gpus} GPUs" if gpus else "CPU")


def make_strategy(choice):
    """The `tf.distribute.Strategy` for a `Choice` (connects to and initialises a TPU)."""
    import tensorflow as tf

    if choice.strategy == "default":
        return tf.distribute.get_strategy()
    if choice.strategy == "mirrored":
        return tf.distribute.MirroredStrategy()
    if choice.strategy == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if choice.strategy == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=choice.tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"unknown strategy {choice.strategy!r}")
