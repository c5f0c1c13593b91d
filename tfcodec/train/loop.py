"""The training loop: one entry point for every model family and strategy.

A run lives in a workdir: `config.json` (what was asked), `checkpoints/`
(model, optimizer, step; written every `checkpoint_every` steps, at the end and
on SIGTERM/SIGINT), `logs/` (TensorBoard). Running the same command again
resumes at the saved step and, because the pipeline is a function of (seed,
example index), on the same data.

Distribution (`strategy`): auto (the default: `tfcodec.train.accelerators`
decides from the machine), default (one device), mirrored (the local GPUs, or
logical CPU devices), multiworker (TF_CONFIG), tpu. The input is built per
input pipeline (`distribute_datasets_from_function`): each host decodes only
its replicas' examples. The step is written for XLA/TPU: static shapes,
stateless randomness keyed by each example's global position (so the
trajectory does not depend on the replica layout, see
`tfcodec.train.randomness`), no Python side effects inside. Gradients are
summed over replicas first and clipped by their global norm after (Keras
clips per replica, before its all-reduce, which would make N replicas train
differently from one device).

Steps per execution: one compiled call runs `steps_per_execution` steps in a
loop on the device (the iterator is read inside it) and returns each step's
metrics at once, so an accelerator does not wait for the host between steps.
Checkpoints, summaries, validation and signals act between calls; calls end on
multiples of their length, so with a length that divides `log_every` and
`checkpoint_every` those happen at exactly the same steps as with one step a call.

The workdir, like every path a user gives, may be on any filesystem TensorFlow
reads (`gs://` for Cloud TPUs): it is handled through `tfcodec.fileio` and
`tf.io.gfile`, never `os` or `open`.

Robustness: `tf.train.CheckpointManager` writes a checkpoint completely
before it updates the `checkpoint` index file (atomically), so a crash while
saving leaves the previous checkpoint as the latest; at restore, a latest
checkpoint that cannot be read (truncated, corrupted) is skipped for the one
before it. A non-finite loss stops the run with `NonFiniteLoss` before
anything is saved, so the last good checkpoint stays the latest.
"""

import contextlib
import dataclasses
import json
import math
import os
import re
import signal
import threading
import time

import numpy as np
from absl import logging

from tfcodec import fileio


@dataclasses.dataclass
class TrainConfig:
    model: str
    data: str
    workdir: str
    steps: int = 100_000
    batch: int = 8
    # 256: from 128^2 crops (an 8x8 latent, a 2x2 hyper-latent, all edge) to 256^2,
    # cw2020-small-wide-range's rate fell 4-28 % at the same PSNR within 3,000 steps
    # (docs/training.md, "Crop size"). MS-SSIM objectives need >= 161 for all 5 scales.
    patch: int = 256
    learning_rate: float = 1e-4
    lr_decay_steps: int = 0
    lr_final_factor: float = 0.1
    clip_norm: float = 1.0
    seed: int = 0
    strategy: str = "auto"
    tpu: str = ""
    # 0: the accelerator's default (`accelerators.STEPS_PER_EXECUTION`: 100 on TPUs, 20 on GPUs,
    # 1 on CPUs), at most log_every
    steps_per_execution: int = 0
    checkpoint_every: int = 1000
    log_every: int = 100
    image_every: int = 5000
    init_weights: str = ""
    jit_compile: bool = False
    validation: str = ""
    validate_every: int = 5000
    validation_images: int = 16
    validation_size: int = 256
    validation_qualities: str = "0,0.5,1"
    data_dir: str = ""
    precision: str = "float32"


PRECISIONS = ("float32", "mixed_bfloat16")


class NonFiniteLoss(RuntimeError):
    pass


def worker_role(strategy):
    """(is_chief, task_id) of this process in a multi-worker cluster, (True, 0) otherwise."""
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None)
    task_id = getattr(resolver, "task_id", None) or 0
    if task_type in (None, "chief", "tpu_worker"):
        return True, task_id
    if task_type == "worker":
        cluster = resolver.cluster_spec().as_dict()
        return "chief" not in cluster and task_id == 0, task_id
    return False, task_id


def _save_config(config, resolved):
    """WORKDIR/config.json: the settings as asked, and under "resolved" what this start made
    of the automatic ones (strategy, TPU target, steps per call)."""
    fileio.makedirs(config.workdir)
    fileio.write_atomic(fileio.join(config.workdir, "config.json"), json.dumps(
        dict(dataclasses.asdict(config), resolved=resolved), indent=2, sort_keys=True).encode())


@contextlib.contextmanager
def dtype_policy(precision):
    """Keras's global dtype policy set to `precision` while models are built, then restored.

    Layers take the policy when they are constructed, so the built model keeps it;
    its variables stay float32 either way, and checkpoints are the same.
    """
    import keras

    if precision not in PRECISIONS:
        raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def build_training_model(config):
    """The model to train, under `config.precision`."""
    from tfcodec.models import build_model

    with dtype_policy(config.precision):
        model = build_model(config.model)
    _warn_if_crops_too_small(model, config.patch)
    return model


def _warn_if_crops_too_small(model, patch):
    """An MS-SSIM objective on crops too small for its coarse scales trains on the
    fine ones only, while the evaluation weighs all five (the two dropped carry 37 %)."""
    from tfcodec.evaluate.metrics import POWER_FACTORS, msssim_scales

    if getattr(getattr(model, "config", None), "distortion", None) != "msssim":
        return
    scales = msssim_scales(patch, patch)[0]
    if scales < len(POWER_FACTORS):
        logging.warning("--patch %d holds %d of the %d MS-SSIM scales the evaluation uses; "
                        "crops of 161 or more train all of them", patch, scales, len(POWER_FACTORS))


def load_initial_weights(model, path):
    """--init-weights: a tfcodec weights bundle (.npz, or a shipped model's name) or a
    Keras weights file. Used only when the workdir has no checkpoint yet.

    Returns the training steps behind those weights (a bundle's `step`; 0 for a Keras
    file), which `_save_lineage` keeps for the exported bundle's step count."""
    if path.endswith(".npz") or not fileio.exists(path):
        from tfcodec.models import bundle_family
        from tfcodec.weights import assign_keras_weights, load_bundle, resolve

        bundle = load_bundle(resolve(path))
        family = bundle_family(bundle)
        if not isinstance(model.config, family.config_class):
            raise ValueError(f"--init-weights {path}: a {family.name} bundle cannot start a "
                             f"{type(model.config).__name__} model")
        assign_keras_weights(model, family.load("warm_start")(model, bundle), source=path)
        logging.info("initial weights from %s (model %s, step %s)", path, bundle.meta.get("model"),
                     bundle.meta.get("step"))
        return int(bundle.meta.get("step") or 0)
    model.load_weights(path)
    return 0


LINEAGE_FILE = "init.json"


def _save_lineage(workdir, init_weights, steps):
    """WORKDIR/init.json: the weights a run started from and their steps, written once at
    the run's first start (a shipped name's file may be replaced later by this very run's
    export, so the count is recorded, not looked up again)."""
    path = fileio.join(workdir, LINEAGE_FILE)
    if fileio.exists(path):
        return
    fileio.write_atomic(path, json.dumps({"init_weights": init_weights, "initial_step": steps},
                                         indent=2).encode())


def initial_step(workdir):
    """Training steps behind a run's --init-weights (0 for a run from scratch)."""
    try:
        return int(json.loads(fileio.read_bytes(fileio.join(workdir, LINEAGE_FILE)))["initial_step"])
    except FileNotFoundError:
        return 0


def step_meta(workdir, step):
    """A bundle's step fields for checkpoint `step` of the run in `workdir`: the steps in
    all (a run started with --init-weights continues the steps behind them), and this
    run's own where they differ."""
    before = initial_step(workdir)
    return {"step": before + step, **({"steps_of_this_run": step} if before else {})}


def learning_rate_at(config, step):
    """The learning rate for a (0-based) step, a TF scalar: constant, or with
    `lr_decay_steps`, constant until the last that many steps of `steps`, then
    log-linear down to `learning_rate * lr_final_factor` at `steps`.

    The step assigns it to the optimizer's learning-rate variable every time
    (rather than giving Keras a schedule): the optimizer's variables, hence the
    checkpoint layout, stay the same with or without decay, and a resumed run
    follows the flags it is given, not the rate saved in the checkpoint.
    """
    import tensorflow as tf

    base = tf.constant(config.learning_rate, tf.float32)
    if not config.lr_decay_steps:
        return base
    start = float(max(config.steps - config.lr_decay_steps, 0))
    progress = tf.clip_by_value((tf.cast(step, tf.float32) - start) / float(config.lr_decay_steps), 0.0, 1.0)
    return base * tf.pow(tf.constant(config.lr_final_factor, tf.float32), progress)


def make_optimizer(config):
    """Adam that applies gradients as given (the step all-reduces and clips them itself)."""
    import keras

    class Adam(keras.optimizers.Adam):
        def _all_reduce_sum_gradients(self, grads_and_vars):
            return list(grads_and_vars)

    if not hasattr(keras.optimizers.Adam, "_all_reduce_sum_gradients"):
        raise RuntimeError("this Keras no longer has Optimizer._all_reduce_sum_gradients; "
                           "tfcodec.train.loop.make_optimizer needs updating")
    return Adam(config.learning_rate)


def _checkpoint_number(path):
    match = re.search(r"-(\d+)$", path)
    return int(match.group(1)) if match else -1


def restore_candidates(directory):
    """Checkpoint prefixes to try, newest first: those the index file lists, or, if the
    index is missing or unreadable, every complete-looking ckpt-N.index."""
    import tensorflow as tf

    listed = []
    try:
        state = tf.train.get_checkpoint_state(directory)
    except Exception as e:  # noqa: BLE001 - an unreadable index file is a reason to fall back
        logging.warning("checkpoint index in %s unreadable (%s); scanning the files", directory, e)
        state = None
    if state is not None:
        listed = [p if os.path.isabs(p) or fileio.is_url(p) else fileio.join(directory, p)
                  for p in list(state.all_model_checkpoint_paths) or [state.model_checkpoint_path]]
    elif tf.io.gfile.isdir(directory):
        listed = [p[:-len(".index")] for p in tf.io.gfile.glob(fileio.join(directory, "ckpt-*.index"))]
    return sorted(set(listed), key=_checkpoint_number, reverse=True)


def restore_latest_good(checkpoint, directory):
    """Restores the newest readable checkpoint in `directory`; its path, or None."""
    for path in restore_candidates(directory):
        try:
            checkpoint.restore(path).expect_partial()
        except Exception as e:  # noqa: BLE001 - corrupted/partial files: try the one before
            logging.warning("checkpoint %s unreadable (%s: %s); trying the previous one",
                            path, type(e).__name__, str(e).splitlines()[0] if str(e) else "")
            continue
        return path
    return None


def _value(variable):
    """An int64 (possibly distributed) variable as a Python int."""
    return int(variable.read_value().numpy())


def _scalar(value):
    """A scalar tensor or (possibly distributed) variable as a Python float."""
    import keras

    if isinstance(value, keras.Variable):
        value = value.value  # the tf.Variable (a MirroredVariable under a strategy)
    if hasattr(value, "read_value"):
        value = value.read_value()
    return float(value.numpy())


def _qualities(config, family):
    """The qualities validation runs at: the asked ones for a variable-rate family, else 1."""
    if not family.variable_rate:
        return [1.0]
    return [float(q) for q in config.validation_qualities.split(",") if q.strip()]


METRICS = ("loss", "bpp", "mse", "stop")


def make_train_call(config, strategy, model, optimizer, step):
    """The compiled training call: `train_call(iterator, count, stop)` -> per-step metrics.

    It runs `count` steps (a scalar tensor: calls of any length share one trace),
    each reading its batch from the distributed `iterator` inside the call, and
    returns {"loss", "bpp", "mse", "stop"}: vectors of `count` values, the
    global batch's means and the stop flags summed over replicas, gathered on
    the device and fetched by the host once. `stop` is a float flag (> 0: this
    worker was signalled). Each step advances `step` (and the learning rate).
    """
    import tensorflow as tf

    from tfcodec.train.randomness import QUALITY_STREAM, example_uniform, keyed_random

    replicas = strategy.num_replicas_in_sync
    global_batch = config.batch
    variables = model.trainable_variables
    seed = config.seed

    # XLA: the default strategy compiles each whole step; multi-device strategies compile
    # each replica's forward and backward pass (the all-reduce and the update stay
    # outside: a compiled cluster must not span devices); TPUStrategy compiles the
    # replica function itself. The loop and the iterator stay outside XLA.
    step_jit = bool(config.jit_compile) and config.strategy == "default"
    replica_jit = bool(config.jit_compile) and config.strategy in ("mirrored", "multiworker")

    def loss_and_grads(images, indices):
        quality = example_uniform(seed, indices, QUALITY_STREAM)
        with keyed_random(seed, indices), tf.GradientTape() as tape:
            loss, aux = model.rd_loss(images, quality, training=True)
            scaled = tf.reduce_sum(loss) / global_batch
        grads = tape.gradient(scaled, variables)
        sums = {"loss": tf.reduce_sum(loss) / global_batch,
                "bpp": tf.reduce_sum(aux["bpp"]) / global_batch,
                "mse": tf.reduce_sum(aux["mse"]) / global_batch}
        return sums, grads

    if replica_jit:
        loss_and_grads = tf.function(loss_and_grads, jit_compile=True, autograph=False)

    replica_batch = global_batch // replicas

    def replica_step(images, indices, stop):
        # Batches read inside the call lose their static size under some strategies
        # (multi-worker); the keyed randomness and XLA need it.
        if isinstance(images, dict):  # a family's own examples (Family.training_example)
            images = {k: tf.ensure_shape(v, (replica_batch,) + tuple(v.shape[1:])) for k, v in images.items()}
        else:
            images = tf.ensure_shape(images, (replica_batch, config.patch, config.patch, 3))
        indices = tf.ensure_shape(indices, (replica_batch,))
        sums, grads = loss_and_grads(images, indices)
        present = [i for i, g in enumerate(grads) if g is not None]
        reduced = tf.distribute.get_replica_context().all_reduce(
            tf.distribute.ReduceOp.SUM, [grads[i] for i in present])
        if config.clip_norm:
            reduced, _ = tf.clip_by_global_norm(reduced, config.clip_norm)
        optimizer.apply_gradients(zip(reduced, [variables[i] for i in present]))
        # a distinct tensor per replica; summed over replicas: > 0 iff any worker was signalled
        return dict(sums, stop=tf.identity(stop) / replicas)

    def one_step(images, indices, stop):
        optimizer.learning_rate.assign(learning_rate_at(config, step))
        per_replica = strategy.run(replica_step, args=(images, indices, stop))
        step.assign_add(1)
        return {k: strategy.reduce("SUM", v, axis=None) for k, v in per_replica.items()}

    if step_jit:
        one_step = tf.function(one_step, jit_compile=True, autograph=False)

    @tf.function(autograph=False)
    def train_call(iterator, count, stop):
        def body(i, *arrays):
            images, indices = next(iterator)
            metrics = one_step(images, indices, stop)
            return (i + 1,) + tuple(a.write(i, metrics[k]) for a, k in zip(arrays, METRICS))

        arrays = tuple(tf.TensorArray(tf.float32, size=count) for _ in METRICS)
        _, *arrays = tf.while_loop(lambda i, *_: i < count, body, (tf.constant(0), *arrays))
        return {k: a.stack() for k, a in zip(METRICS, arrays)}

    return train_call


def _crossed(before, after, every):
    """Whether a call that took the step from `before` to `after` passed a multiple of `every`."""
    return every > 0 and before // every != after // every


def train(config: TrainConfig, progress=True, on_step=None):
    """Runs (or resumes) training until config.steps; returns the final step.

    `on_step(step, metrics)`, if given, is called after every step with the
    global batch's mean loss, bpp and mse (floats), after the call that ran it.
    """
    from tfcodec.train.accelerators import choose_for, configure_tpu_runtime, make_strategy

    configure_tpu_runtime()  # a no-op unless on v5e/v5p/v6e chips; `tfcodec train` did it already

    import keras
    import tensorflow as tf

    from tfcodec.models import family_of
    from tfcodec.train.data import training_examples

    if config.steps_per_execution < 0:
        raise ValueError(f"--steps-per-execution {config.steps_per_execution}: use 1 or more (0: automatic)")
    choice = choose_for(config.strategy, config.tpu)
    strategy = make_strategy(choice)
    is_chief, task_id = worker_role(strategy)
    per_call = min(config.steps_per_execution or choice.steps_per_execution, max(config.log_every, 1))
    if is_chief:
        _save_config(config, {"strategy": choice.strategy, "tpu": choice.tpu, "device": choice.device,
                              "steps_per_execution": per_call})
        logging.info("strategy %s: %s; %d step(s) per call", choice.strategy, choice.description, per_call)
    config = dataclasses.replace(config, strategy=choice.strategy, tpu=choice.tpu)
    replicas = strategy.num_replicas_in_sync
    global_batch = config.batch
    if global_batch % replicas:
        raise ValueError(f"--batch {global_batch} is not a multiple of the {replicas} replicas")

    keras.utils.set_random_seed(config.seed)  # the same initial weights on every worker and rerun
    with strategy.scope():
        model = build_training_model(config)
        optimizer = make_optimizer(config)
        optimizer.build(model.trainable_variables)
        step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step)
    checkpoint_dir = fileio.join(config.workdir, "checkpoints")
    restored = restore_latest_good(checkpoint, checkpoint_dir)
    if restored:
        # --init-weights is not read: a resumed run needs only its checkpoint, even
        # where the bundle it started from has since left the package.
        logging.info("resumed from %s at step %d", restored, _value(step))
    elif config.init_weights:
        with strategy.scope():
            initial = load_initial_weights(model, config.init_weights)
        if is_chief:
            _save_lineage(config.workdir, config.init_weights, initial)
    # Only the chief writes the real checkpoints; the other workers take part in the
    # save (it may need collectives) into a scratch folder deleted right after.
    save_dir = checkpoint_dir if is_chief else fileio.join(config.workdir, f".worker-{task_id}-scratch")
    manager = tf.train.CheckpointManager(checkpoint, save_dir, max_to_keep=3)

    start = _value(step)
    if start >= config.steps:
        return start

    family = family_of(config.model)
    example_fn = (family.load("training_example")(family.configs[config.model])
                  if family.training_example else None)

    def dataset_fn(context):
        return training_examples(
            config.data, config.patch, global_batch, config.seed, start_example=start * global_batch,
            replica_batch=context.get_per_replica_batch_size(global_batch),
            num_pipelines=context.num_input_pipelines, pipeline_id=context.input_pipeline_id,
            data_dir=config.data_dir or None, example_fn=example_fn)

    iterator = iter(strategy.distribute_datasets_from_function(dataset_fn))
    train_call = make_train_call(config, strategy, model, optimizer, step)

    validate = _make_validation(config, model, family, strategy) if config.validation else None
    log_images = _make_image_logger(config, model, strategy, example_fn)

    writer = (tf.summary.create_file_writer(fileio.join(config.workdir, "logs")) if is_chief
              else tf.summary.create_noop_writer())
    stop = {"signal": None}
    # On a signal, a single process stops after the call in flight; that call read the flag
    # before the signal came, so waiting for the flag to come back through the next call
    # would cost a whole extra call before the save, and a kill that follows SIGTERM may
    # come first. Several workers must agree on the step they save, so they do learn of
    # it through the next call.
    single_process = config.strategy in ("default", "mirrored")

    def _on_signal(signum, _frame):
        stop["signal"] = signum

    previous = {}
    if threading.current_thread() is threading.main_thread():
        # SIGHUP too: a run started from a terminal that goes away saves instead of dying.
        stop_signals = [signal.SIGTERM, signal.SIGINT] + (
            [signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
        previous = {s: signal.signal(s, _on_signal) for s in stop_signals}
    bar = None
    if progress and is_chief:
        from tqdm import tqdm
        bar = tqdm(total=config.steps, initial=start, unit="step", dynamic_ncols=True, mininterval=5)
    try:
        tick, tick_step = time.time(), start
        sums = {"loss": 0.0, "bpp": 0.0, "mse": 0.0}
        current = start
        while current < config.steps:
            # Calls end on multiples of their length (a resumed run first catches up).
            count = min(per_call - current % per_call, config.steps - current)
            flag = tf.constant(1.0 if stop["signal"] else 0.0)
            fetched = {k: v.numpy() for k, v in train_call(iterator, tf.constant(count), flag).items()}
            before, current = current, current + count  # each call advances `step` by `count`
            stopping = bool(fetched["stop"].max() > 0) or (single_process and stop["signal"] is not None)
            for i in range(count):
                values = {k: float(fetched[k][i]) for k in sums}
                if not all(math.isfinite(v) for v in values.values()):
                    raise NonFiniteLoss(
                        f"non-finite training loss at step {before + i + 1} (loss {values['loss']}, bpp "
                        f"{values['bpp']}, mse {values['mse']}); nothing was saved after it: the last good "
                        f"checkpoint is {manager.latest_checkpoint or restored or 'none (no checkpoint yet)'}. "
                        f"Rerun to resume from it, with a lower --learning-rate or --clip-norm.")
                if on_step is not None:
                    on_step(before + i + 1, values)
                for k in sums:
                    sums[k] += values[k]
            if bar is not None:
                bar.update(count)
            if _crossed(before, current, config.log_every):
                rate = (current - tick_step) / max(time.time() - tick, 1e-9)
                means = {k: v / (current - tick_step) for k, v in sums.items()}
                psnr = 10 * math.log10(255.0**2 / max(means["mse"], 1e-10))
                lr = _scalar(optimizer.learning_rate)
                with writer.as_default(step=current):
                    for k, v in means.items():
                        tf.summary.scalar(f"train/{k}", v)
                    tf.summary.scalar("train/psnr", psnr)
                    tf.summary.scalar("train/steps_per_second", rate)
                    tf.summary.scalar("train/learning_rate", lr)
                if is_chief:
                    logging.info("step %d loss %.4f bpp %.4f psnr %.2f dB lr %.3g  %.2f steps/s",
                                 current, means["loss"], means["bpp"], psnr, lr, rate)
                if bar is not None:
                    bar.set_postfix(bpp=f"{means['bpp']:.3f}", psnr=f"{psnr:.2f}")
                tick, tick_step = time.time(), current
                sums = {k: 0.0 for k in sums}
            # On a signal nothing slow runs before the save.
            if _crossed(before, current, config.image_every) and not stopping:
                log_images(writer, current)
            if validate is not None and not stopping and (_crossed(before, current, config.validate_every)
                                                          or current >= config.steps):
                results = validate()
                with writer.as_default(step=current):
                    _write_validation(results)
                if is_chief:
                    logging.info("validation at step %d: %s", current, "; ".join(
                        f"q{q:.2f}: {r['estimated_bpp']:.3f} bpp (est.) {r['psnr']:.2f} dB "
                        f"ms-ssim {r['ms_ssim']:.4f}" for q, r in results.items()))
            if _crossed(before, current, config.checkpoint_every) or current >= config.steps or stopping:
                manager.save(checkpoint_number=current)
                if not is_chief:
                    tf.io.gfile.rmtree(save_dir)
            if stopping:
                logging.warning("signal: checkpoint saved at step %d, stopping", current)
                break
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if bar is not None:
            bar.close()
        writer.flush()
    return _value(step)


# -- validation ---------------------------------------------------------------


def _first_replica(strategy, fn):
    """A tf.function running `fn` on every replica with the same (undistributed) inputs and
    returning the first local replica's result: model evaluations that work under every
    strategy, TPU included (whose variables live on the cores)."""
    import tensorflow as tf

    @tf.function(autograph=False)
    def run(*args):
        return tf.nest.map_structure(lambda v: strategy.experimental_local_results(v)[0],
                                     strategy.run(fn, args=args))

    return run


def _originals(x):
    """The original images of a batch: the crops, or a family's own examples' "image"."""
    return x["image"] if isinstance(x, dict) else x


def _make_validation(config, model, family, strategy):
    """A function returning {quality: {"estimated_bpp", "psnr", "ms_ssim"}} on the validation set."""
    import tensorflow as tf

    from tfcodec.train.data import validation_images

    size = config.validation_size
    if size < 192 or size % 64:
        raise ValueError(f"--validation-size {size}: use a multiple of 64 of at least 192 "
                         "(MS-SSIM's five scales need 176 pixels; the models pad to 64)")
    images = validation_images(config.validation, config.validation_images or None, size)
    images = images.unbatch().batch(4).cache()
    qualities = _qualities(config, family)

    def measure_fn(x, quality):
        target = _originals(x)
        _, aux = model.rd_loss(x, tf.fill((tf.shape(target)[0],), quality), training=False)
        original = tf.round(target * 255.0)
        rebuilt = tf.round(tf.clip_by_value(aux["x_hat"], 0.0, 1.0) * 255.0)
        return (aux["bpp"], tf.image.psnr(original, rebuilt, 255.0),
                tf.image.ssim_multiscale(original, rebuilt, 255.0))

    measure = _first_replica(strategy, measure_fn)
    # The dataset of each quality, made once: a family's own examples (e.g. the JPEG refiner's
    # input at that quality), else the crops themselves.
    examples = dict.fromkeys(qualities, images)
    if family.validation_example:
        example_for = family.load("validation_example")
        examples = {q: images.unbatch().map(example_for(model.config, q)).batch(4) for q in qualities}

    def run():
        results = {}
        for quality in qualities:
            parts = [[], [], []]
            for x in examples[quality]:
                for part, value in zip(parts, measure(x, tf.constant(quality, tf.float32))):
                    part.append(value.numpy())
            bpp, psnr, msssim = (float(np.mean(np.concatenate(p))) for p in parts)
            results[quality] = {"estimated_bpp": bpp, "psnr": psnr, "ms_ssim": msssim}
        return results

    return run


def _write_validation(results):
    import tensorflow as tf

    for quality, r in results.items():
        tag = f"q{quality:.2f}"
        tf.summary.scalar(f"val/estimated_bpp/{tag}", r["estimated_bpp"],
                          description="estimated bpp: the entropy model's estimate on rounded "
                                      "latents, not the length of a real bitstream")
        tf.summary.scalar(f"val/psnr/{tag}", r["psnr"], description="PSNR (dB) on 0-255 RGB")
        tf.summary.scalar(f"val/ms_ssim/{tag}", r["ms_ssim"], description="MS-SSIM on 0-255 RGB")
        tf.summary.scalar(f"val/ms_ssim_db/{tag}", -10 * math.log10(max(1 - r["ms_ssim"], 1e-10)))


def _make_image_logger(config, model, strategy, example_fn=None):
    """TensorBoard pairs (crop, reconstruction) at the lowest and highest quality.

    The crops are the first two examples of the run's data order, the same at every
    log (progress shows on fixed content), read by a pipeline of their own: the
    training batches stay inside the compiled calls."""
    import tensorflow as tf

    from tfcodec.train.data import training_dataset

    def reconstruct_fn(x, quality):
        # a family's own examples: its input (e.g. the JPEG), then the original and the reconstruction
        target = _originals(x)
        out = model.forward(x, tf.fill((tf.shape(target)[0],), quality), training=False)
        given = [x["jpeg"]] if isinstance(x, dict) and "jpeg" in x else []
        return tf.concat(given + [target, tf.clip_by_value(out["x_hat"], 0.0, 1.0)], axis=2)

    reconstruct = _first_replica(strategy, reconstruct_fn)
    sample = []

    def log(writer, current):
        if not sample:
            sample.extend(training_dataset(config.data, config.patch, 2, config.seed,
                                           data_dir=config.data_dir or None, example_fn=example_fn).take(1))
        with writer.as_default(step=current):
            for quality in (0.0, 1.0):
                pair = reconstruct(sample[0], tf.constant(quality, tf.float32))
                tf.summary.image(f"reconstruction/quality_{quality:.1f}", pair, max_outputs=2)

    return log
