"""The training loop: one entry point for every model family and strategy.

A run lives in a workdir: `config.json` (what was asked), `checkpoints/`
(model, optimizer, step; written every `checkpoint_every` steps and on
SIGTERM/SIGINT), `logs/` (TensorBoard). Running the same command again resumes
at the saved step and, because the pipeline is a function of (seed, example
index), on the same data.
"""

import dataclasses
import json
import math
import os
import signal
import time

from absl import logging


@dataclasses.dataclass
class TrainConfig:
    model: str
    data: str
    workdir: str
    steps: int = 100_000
    batch: int = 8
    patch: int = 128
    learning_rate: float = 1e-4
    clip_norm: float = 1.0
    seed: int = 0
    strategy: str = "default"
    tpu: str = ""
    checkpoint_every: int = 1000
    log_every: int = 100
    image_every: int = 5000
    init_weights: str = ""
    jit_compile: bool = False
    validation: str = ""
    validate_every: int = 5000


class NonFiniteLoss(RuntimeError):
    pass


def make_strategy(name, tpu=""):
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or None)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"unknown strategy {name!r}: default, mirrored, multiworker or tpu")


def _save_config(config):
    os.makedirs(config.workdir, exist_ok=True)
    path = os.path.join(config.workdir, "config.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(dataclasses.asdict(config), f, indent=2, sort_keys=True)
    os.replace(tmp, path)


def train(config: TrainConfig, progress=True):
    """Runs (or resumes) training until config.steps; returns the final step."""
    import tensorflow as tf

    from tfcodec.models import build_model
    from tfcodec.train.data import training_dataset

    _save_config(config)
    strategy = make_strategy(config.strategy, config.tpu)
    with strategy.scope():
        model = build_model(config.model)
        if config.init_weights:
            model.load_weights(config.init_weights)
        import keras
        optimizer = keras.optimizers.Adam(config.learning_rate, global_clipnorm=config.clip_norm or None)
        optimizer.build(model.trainable_variables)
        step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step)
    manager = tf.train.CheckpointManager(
        checkpoint, os.path.join(config.workdir, "checkpoints"), max_to_keep=3)
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).expect_partial()
        logging.info("resumed from %s at step %d", manager.latest_checkpoint, int(step))
    start = int(step)
    if start >= config.steps:
        return start

    global_batch = config.batch
    dataset = training_dataset(config.data, config.patch, global_batch, config.seed,
                               start_example=start * global_batch)
    dist_dataset = strategy.experimental_distribute_dataset(dataset)
    quality_seed = tf.constant([config.seed, 1], tf.int64)

    def step_fn(images, step_value):
        replica = tf.distribute.get_replica_context()
        local = tf.shape(images)[0]
        seed = tf.stack([quality_seed[0] + step_value, tf.cast(replica.replica_id_in_sync_group, tf.int64)])
        quality = tf.random.stateless_uniform((local,), seed)
        with tf.GradientTape() as tape:
            loss, aux = model.rd_loss(images, quality, training=True)
            scaled = tf.reduce_sum(loss) / global_batch
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return {"loss": tf.reduce_sum(loss) / global_batch,
                "bpp": tf.reduce_sum(aux["bpp"]) / global_batch,
                "mse": tf.reduce_sum(aux["mse"]) / global_batch}

    @tf.function(jit_compile=False)
    def train_step(images):
        per_replica = strategy.run(step_fn, args=(images, step))
        step.assign_add(1)
        return {k: strategy.reduce("SUM", v, axis=None) for k, v in per_replica.items()}

    writer = tf.summary.create_file_writer(os.path.join(config.workdir, "logs"))
    stop = {"signal": None}

    def _on_signal(signum, _frame):
        stop["signal"] = signum

    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=config.steps, initial=start, unit="step", dynamic_ncols=True, mininterval=5)
    try:
        tick, tick_step = time.time(), start
        sums = {"loss": 0.0, "bpp": 0.0, "mse": 0.0}
        for images in dist_dataset:
            metrics = train_step(images)
            current = int(step)
            values = {k: float(v) for k, v in metrics.items()}
            if not all(math.isfinite(v) for v in values.values()):
                raise NonFiniteLoss(
                    f"loss became {values['loss']} at step {current}; the last good checkpoint "
                    f"is {manager.latest_checkpoint} (resume lowers the risk with a smaller --lr)")
            for k in sums:
                sums[k] += values[k]
            if bar is not None:
                bar.update(1)
            if current % config.log_every == 0:
                rate = (current - tick_step) / max(time.time() - tick, 1e-9)
                means = {k: v / (current - tick_step) for k, v in sums.items()}
                psnr = 10 * math.log10(255.0**2 / max(means["mse"], 1e-10))
                with writer.as_default(step=current):
                    for k, v in means.items():
                        tf.summary.scalar(f"train/{k}", v)
                    tf.summary.scalar("train/psnr", psnr)
                    tf.summary.scalar("train/steps_per_second", rate)
                    tf.summary.scalar("train/learning_rate", float(optimizer.learning_rate))
                logging.info("step %d loss %.4f bpp %.4f psnr %.2f dB  %.2f steps/s",
                             current, means["loss"], means["bpp"], psnr, rate)
                if bar is not None:
                    bar.set_postfix(bpp=f"{means['bpp']:.3f}", psnr=f"{psnr:.2f}")
                tick, tick_step = time.time(), current
                sums = {k: 0.0 for k in sums}
            if current % config.image_every == 0:
                _log_images(writer, model, images, current, strategy)
            if current % config.checkpoint_every == 0 or current >= config.steps or stop["signal"]:
                manager.save(checkpoint_number=current)
            if stop["signal"]:
                logging.warning("signal %d: checkpoint saved at step %d, stopping", stop["signal"], current)
                break
            if current >= config.steps:
                break
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if bar is not None:
            bar.close()
        writer.flush()
    return int(step)


def _log_images(writer, model, images, current, strategy):
    import tensorflow as tf

    local = strategy.experimental_local_results(images)[0][:2]
    with writer.as_default(step=current):
        for quality in (0.0, 1.0):
            out = model.forward(local, tf.fill((tf.shape(local)[0],), quality), training=False)
            pair = tf.concat([local, tf.clip_by_value(out["x_hat"], 0.0, 1.0)], axis=2)
            tf.summary.image(f"reconstruction/quality_{quality:.1f}", pair, max_outputs=2)
