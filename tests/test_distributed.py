"""tf.distribute tests on one CPU machine: MirroredStrategy over two logical CPU
devices follows the default strategy's loss trajectory for the same global
batch, and MultiWorkerMirroredStrategy with two worker processes on 127.0.0.1
trains, checkpoints (chief only) and agrees with it too.

Each run happens in a fresh Python process (logical devices and TF_CONFIG must
be set before TensorFlow starts): this file is also the worker script
(`python tests/test_distributed.py MODE WORKDIR DATA DATA_DIR`).
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

STEPS = 3


def _register_tiny():
    from tfcodec.models import register_model
    from tfcodec.models.config import HyperpriorConfig

    register_model("test-dist-tiny", HyperpriorConfig("mbt2018-mean", 8, 8, 8, 8))


def _worker(mode, workdir, data, data_dir):
    """Trains STEPS steps with each strategy named in `mode`; prints RESULT {strategy: losses}."""
    import tensorflow as tf

    if "mirrored" in mode:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    _register_tiny()
    from tfcodec.train.loop import TrainConfig, train

    results = {}
    for strategy in mode.split(","):
        losses = []
        # mirrored runs two steps a compiled call: the loop inside the call must match the
        # default strategy's one step a call
        config = TrainConfig(model="test-dist-tiny", data=data, workdir=os.path.join(workdir, strategy),
                             steps=STEPS, batch=4, patch=64, learning_rate=1e-3, checkpoint_every=2,
                             log_every=2, image_every=1000, strategy=strategy, data_dir=data_dir,
                             steps_per_execution=2 if strategy == "mirrored" else 1)
        final = train(config, progress=False, on_step=lambda step, m, out=losses: out.append(m["loss"]))
        results[strategy] = {"final": final, "losses": losses}
    print("RESULT " + json.dumps(results), flush=True)


def _result(output):
    lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
    assert lines, output[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


def _spawn(mode, workdir, data, data_dir, env=None):
    return subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), mode, str(workdir), data, data_dir],
        env=dict(os.environ, **(env or {})), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    from test_training import write_images

    from tfcodec.train.folder_dataset import prepare_folder

    folder = write_images(str(tmp_path_factory.mktemp("photos")))
    data_dir = str(tmp_path_factory.mktemp("tfds"))
    prepare_folder(folder, data_dir)  # once, before the workers start
    return folder, data_dir


@pytest.mark.slow
def test_mirrored_two_cpus_matches_default(photos, tmp_path):
    folder, data_dir = photos
    process = _spawn("default,mirrored", tmp_path, folder, data_dir)
    output, _ = process.communicate(timeout=900)
    assert process.returncode == 0, output[-3000:]
    results = _result(output)
    default, mirrored = results["default"], results["mirrored"]
    assert default["final"] == mirrored["final"] == STEPS
    assert len(mirrored["losses"]) == STEPS and np.all(np.isfinite(mirrored["losses"]))
    np.testing.assert_allclose(mirrored["losses"], default["losses"], rtol=1e-4)
    assert os.path.exists(tmp_path / "mirrored" / "checkpoints" / f"ckpt-{STEPS}.index")


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_multiworker_two_processes(photos, tmp_path):
    folder, data_dir = photos
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    workers = [_spawn("multiworker", tmp_path, folder, data_dir,
                      {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})})
               for i in range(2)]
    outputs = []
    try:
        for worker in workers:
            outputs.append(worker.communicate(timeout=900)[0])
    finally:
        for worker in workers:
            worker.kill()
    for worker, output in zip(workers, outputs):
        assert worker.returncode == 0, output[-3000:]
    chief, other = (_result(o)["multiworker"] for o in outputs)
    assert chief["final"] == other["final"] == STEPS
    np.testing.assert_allclose(chief["losses"], other["losses"], rtol=1e-6)  # one global batch
    assert np.all(np.isfinite(chief["losses"]))
    run = tmp_path / "multiworker"
    assert (run / "checkpoints" / f"ckpt-{STEPS}.index").exists() and (run / "config.json").exists()
    assert not list(run.glob(".worker-*"))  # the non-chief's scratch saves are cleaned up


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    _worker(*sys.argv[1:5])
