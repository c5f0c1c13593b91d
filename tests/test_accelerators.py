"""`--strategy auto`: the decision in simulated machines, and the resolver target, without connecting.

Each test lays out a machine under a temporary root (device files, sysfs
vendor ids) with its own environment variables, as Cloud TPU VMs, Colab's TPU
runtimes and GPU machines present themselves.
"""

import json
import os
import subprocess
import sys

import pytest

from tfcodec.train import accelerators
from tfcodec.train.accelerators import Hardware, choose, choose_for, detect_hardware, make_strategy


def _machine(root, files=(), vendors=()):
    """Device files (paths under /dev) and PCI devices with the given vendor ids under `root`."""
    for path in files:
        full = os.path.join(root, path.lstrip("/"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        open(full, "w").close()
    for i, vendor in enumerate(vendors):
        folder = os.path.join(root, "sys", "bus", "pci", "devices", f"0000:00:0{i + 4}.0")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "vendor"), "w") as f:
            f.write(vendor + "\n")
    return str(root)


def _decide(root, environ, gpus=0, tpu_support=True, tpu=""):
    return choose(tpu, detect_hardware(root, environ), gpus=gpus, tpu_support=tpu_support)


def test_tpu_v2_to_v4_vm_accel_devices(tmp_path):
    root = _machine(tmp_path, [f"/dev/accel{i}" for i in (0, 1, 2, 3)])
    hardware = detect_hardware(root, {})
    assert hardware.kind == "tpu" and hardware.tpu_chips == tuple(
        os.path.join(root, f"dev/accel{i}") for i in range(4))
    choice = choose(hardware=hardware, gpus=0, tpu_support=True)
    assert (choice.strategy, choice.tpu, choice.device) == ("tpu", "local", "tpu")
    assert choice.steps_per_execution == 100 and "4 chips" in choice.description


@pytest.mark.parametrize("accelerator", ["v5litepod-8", "v5p-8", "v6e-1"])
def test_tpu_v5_v6_vm_vfio_groups_with_the_tpu_variables(tmp_path, accelerator):
    root = _machine(tmp_path, ["/dev/vfio/vfio", "/dev/vfio/0", "/dev/vfio/1"])
    choice = _decide(root, {"TPU_ACCELERATOR_TYPE": accelerator, "TPU_WORKER_ID": "0"})
    assert (choice.strategy, choice.tpu) == ("tpu", "local")
    assert accelerator in choice.description and "2 chips" in choice.description  # /dev/vfio/vfio is no chip


def test_colab_tpu_runtime_by_google_pci_vendor_alone(tmp_path):
    root = _machine(tmp_path, ["/dev/vfio/vfio", "/dev/vfio/3"], vendors=["0x8086", "0x1ae0"])
    choice = _decide(root, {})
    assert (choice.strategy, choice.tpu) == ("tpu", "local")


def test_vfio_groups_of_other_devices_are_not_tpus(tmp_path):
    """A GPU or NIC handed to a VM is a numbered VFIO group too: no TPU sign, no TPU."""
    root = _machine(tmp_path, ["/dev/vfio/vfio", "/dev/vfio/12"], vendors=["0x10de"])
    hardware = detect_hardware(root, {})
    assert hardware.kind == "cpu" and not hardware.tpu_chips
    assert _decide(root, {}).strategy == "default"


def test_tpu_chips_without_a_tpu_build_fall_back_to_cpu_and_say_so(tmp_path, caplog):
    root = _machine(tmp_path, ["/dev/vfio/0"])
    environ = {"TPU_ACCELERATOR_TYPE": "v6e-1"}
    choice = _decide(root, environ, tpu_support=False)
    assert (choice.strategy, choice.device) == ("default", "cpu")
    assert "v6e-1" in choice.fallback and "tfcodec[tpu]" in choice.fallback
    assert "\n" not in choice.fallback


def test_tpu_nodes_and_pods_by_name_or_address(tmp_path):
    root = _machine(tmp_path)
    choice = _decide(root, {"COLAB_TPU_ADDR": "10.0.0.2:8470"}, tpu_support=False)
    assert (choice.strategy, choice.tpu) == ("tpu", "grpc://10.0.0.2:8470")
    assert _decide(root, {"TPU_NAME": "my-pod"}, tpu_support=False).tpu == "my-pod"
    # --tpu wins, also on a TPU VM
    vm = _machine(tmp_path / "vm", ["/dev/accel0"])
    assert _decide(vm, {}, tpu="grpc://10.1.2.3:8470").tpu == "grpc://10.1.2.3:8470"
    # a TPU VM's own chips win over a TPU_NAME it may carry
    assert _decide(vm, {"TPU_NAME": "my-vm"}).tpu == "local"


def test_gpus(tmp_path):
    root = _machine(tmp_path, ["/dev/nvidia0", "/dev/nvidia1", "/dev/nvidiactl", "/dev/nvidia-uvm"])
    hardware = detect_hardware(root, {})
    assert hardware.kind == "gpu" and len(hardware.gpu_devices) == 2
    two = _decide(root, {}, gpus=2)
    assert (two.strategy, two.device, two.steps_per_execution) == ("mirrored", "gpu", 20)
    one = _decide(root, {}, gpus=1)
    assert (one.strategy, one.device, one.fallback) == ("default", "gpu", "")
    unused = _decide(root, {}, gpus=0)
    assert (unused.strategy, unused.device) == ("default", "cpu")
    assert "TensorFlow sees no GPU" in unused.fallback and "tfcodec[gpu]" in unused.fallback


def test_cpu_and_multiworker(tmp_path):
    root = _machine(tmp_path)
    cpu = _decide(root, {})
    assert (cpu.strategy, cpu.device, cpu.fallback, cpu.steps_per_execution) == ("default", "cpu", "", 1)
    cluster = {"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}
    assert _decide(root, {"TF_CONFIG": json.dumps(cluster)}).strategy == "multiworker"
    assert _decide(root, {"TF_CONFIG": "not json"}).strategy == "default"


def test_auto_warns_in_one_line_when_it_leaves_accelerators_unused(tmp_path, monkeypatch, caplog):
    root = _machine(tmp_path, ["/dev/accel0"])
    monkeypatch.setenv("TFCODEC_DEVICE_ROOT", root)
    monkeypatch.setattr(accelerators, "tensorflow_drives_tpus", lambda: False)
    monkeypatch.setattr(accelerators, "tensorflow_gpus", lambda: 0)
    with caplog.at_level("WARNING"):
        choice = choose_for("auto")
    assert choice.strategy == "default"
    lines = [r.getMessage() for r in caplog.records if "training on the CPU" in r.getMessage()]
    assert len(lines) == 1 and "\n" not in lines[0] and "not a TPU build" in lines[0]


def test_strategy_tpu_without_an_address_uses_the_local_target(tmp_path, monkeypatch):
    monkeypatch.setenv("TFCODEC_DEVICE_ROOT", _machine(tmp_path, ["/dev/vfio/0"], vendors=["0x1ae0"]))
    assert choose_for("tpu").tpu == "local"
    assert choose_for("tpu", "grpc://10.0.0.2:8470").tpu == "grpc://10.0.0.2:8470"
    with pytest.raises(ValueError, match="unknown strategy 'tpus'"):
        choose_for("tpus")


def test_make_strategy_hands_the_resolver_the_target(monkeypatch):
    """The resolver gets "local" on a TPU VM (TensorFlow's default, None, looks the TPU up by
    name through the Cloud API and fails there); nothing connects in this test."""
    import tensorflow as tf

    seen = []

    class Connected(Exception):
        pass

    def resolver(tpu=None, **kwargs):
        seen.append(tpu)
        raise Connected()

    monkeypatch.setattr(tf.distribute.cluster_resolver, "TPUClusterResolver", resolver)
    with pytest.raises(Connected):
        make_strategy(accelerators.Choice("tpu", "local", "tpu"))
    with pytest.raises(Connected):
        make_strategy(choose(tpu="grpc://10.0.0.2:8470", hardware=Hardware(), gpus=0))
    assert seen == ["local", "grpc://10.0.0.2:8470"]


def test_hardware_detection_does_not_import_tensorflow(tmp_path):
    """The notebooks decide which TensorFlow build to install before one is."""
    code = ("import sys; from tfcodec.train.accelerators import detect_hardware; "
            f"h = detect_hardware({str(tmp_path)!r}, {{}}); print(h.kind, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["cpu", "False"]


def test_one_tensorflow_build_is_installed():
    builds = accelerators.installed_tensorflow_builds()
    assert len(builds) == 1, builds


def test_pjrt_runtime_variables_only_beside_vfio_chips(tmp_path, caplog):
    """v5e/v5p/v6e need libtpu's PJRT plugin named before TensorFlow loads; v2-v4 must not get it."""
    vfio = detect_hardware(_machine(tmp_path / "v6e", ["/dev/vfio/0"]), {"TPU_ACCELERATOR_TYPE": "v6e-1"})
    accel = detect_hardware(_machine(tmp_path / "v4", ["/dev/accel0"]), {})
    assert vfio.tpu_pjrt and not accel.tpu_pjrt
    environ = {"PJRT_DEVICE": "TPU"}  # the user's own values stay
    set_ = accelerators.configure_tpu_runtime(vfio, environ, library="/opt/libtpu/libtpu.so")
    assert set_ == {"NEXT_PLUGGABLE_DEVICE_USE_C_API": "true",
                    "TF_PLUGGABLE_DEVICE_LIBRARY_PATH": "/opt/libtpu/libtpu.so"}
    assert environ["PJRT_DEVICE"] == "TPU" and environ["NEXT_PLUGGABLE_DEVICE_USE_C_API"] == "true"
    environ = {}
    assert accelerators.configure_tpu_runtime(accel, environ, library="/opt/libtpu/libtpu.so") == {}
    assert accelerators.configure_tpu_runtime(detect_hardware(str(tmp_path / "none"), {}), environ) == {}
    assert environ == {}


def test_pjrt_library_comes_from_the_libtpu_package(tmp_path, monkeypatch):
    package = tmp_path / "site" / "libtpu"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "import os\ndef get_library_path():\n    return os.path.join(os.path.dirname(__file__), 'libtpu.so')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "libtpu", raising=False)
    vfio = detect_hardware(_machine(tmp_path, ["/dev/vfio/0"], vendors=["0x1ae0"]), {})
    environ = {}
    accelerators.configure_tpu_runtime(vfio, environ)
    assert environ["TF_PLUGGABLE_DEVICE_LIBRARY_PATH"] == str(package / "libtpu.so")
    assert accelerators.tensorflow_drives_tpus()


def test_tensorflow_is_only_an_extra():
    """Installing tfcodec over tensorflow-tpu must not bring the `tensorflow` build beside it:
    no TensorFlow build among the unconditional requirements, one build per extra."""
    from importlib.metadata import requires

    from packaging.requirements import Requirement

    requirements = [Requirement(r) for r in requires("tfcodec")]
    base = {r.name for r in requirements if r.marker is None}
    assert not base & set(accelerators.TENSORFLOW_BUILDS), base
    assert {"keras", "tensorflow-datasets", "importlib-resources"} <= {n.replace("_", "-") for n in base}

    def builds(extra):
        return {f"{r.name}{r.specifier}" for r in requirements
                if r.marker is not None and r.marker.evaluate({"extra": extra})
                and r.name in accelerators.TENSORFLOW_BUILDS}

    assert builds("tpu") == {"tensorflow-tpu==2.20.0"}
    assert builds("tf") == builds("dev") == {"tensorflow<2.22,>=2.20"}
    assert builds("gpu") == {"tensorflow<2.22,>=2.20"} and builds("edge") == set()
