"""The recurrent family's export step: its bit-probability net fitted again on the bits it will code.

Training fits the probability net on the stochastic binarizer's bits; the
shipped encoder makes deterministic (sign) bits, whose statistics differ.
`export_coding` (the family record's, run by `tfcodec export-weights`) fits
the net again on sign bits of training crops, with early stopping on crops it
does not train on, and ships the re-fitted net only if it codes held-out crops
in fewer bits than the checkpoint's, both measured as shipped (quantised to an
`IntegerNet`, per-bin tables fitted on the calibration crops). Every crop is of
a different training image, so no choice is made on the data that shaped it;
evaluation images are never seen.
"""

import numpy as np
from absl import logging

from tfcodec.codecs.recurrent import code_length, coding_arrays_from_bits, collect_bits

POOL_CROP = 128      # side of the crops the net is fitted, validated and judged on
MIN_POOL = 16        # fewer crops than this (a tiny folder) fit nothing: the checkpoint's net ships


def sign_bits(model, crops, batch=16):
    """Every iteration's deterministic bits of `crops` (float, [0, 1]), int8 (they are many)."""
    parts = [collect_bits(model, crops[i:i + batch]) for i in range(0, len(crops), batch)]
    return [np.concatenate([p[t] for p in parts]).astype(np.int8) for t in range(model.config.iterations)]


def _split(all_bits, start, stop):
    return [b[start:stop] for b in all_bits]


def bits_per_bit(model, all_bits, batch=64):
    """The float prob net's cross-entropy on `all_bits`, in bits per coded bit."""
    import tensorflow as tf

    total = 0.0
    for i in range(0, len(all_bits[0]), batch):
        part = [tf.constant(b[i:i + batch], tf.float32) for b in all_bits]
        total += float(tf.reduce_sum(model.bit_cross_entropy(part)))
    return total / sum(b.size for b in all_bits)


def fit_prob_net(model, fit_bits, validation_bits, steps=1500, batch=16, learning_rate=1e-3,
                 check_every=50, patience=6, seed=0):
    """Trains only `model.prob_net` with cross-entropy on sign bits and leaves it at the
    weights that did best on `validation_bits`, the starting ones included.

    The net has some 190k weights and a few hundred crops are cheap to collect: it
    overfits within a few hundred steps (rnn-gru-small's ckpt-3208, 224 crops, this
    learning rate: held-out 0.925 -> 0.891 bits per bit at step 100, then back up to
    0.975 at step 1500). Early stopping on crops it does not train on keeps the gain.
    Returns (validation bits per bit at the start, the best one, its step).
    """
    import keras
    import tensorflow as tf

    variables = model.prob_net.trainable_variables
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(variables)

    @tf.function
    def train_step(batch_bits):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.reduce_sum(model.bit_cross_entropy(batch_bits), 0))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    start = best = bits_per_bit(model, validation_bits)
    best_step, best_weights = 0, model.prob_net.get_weights()
    rng = np.random.default_rng(seed)
    n = len(fit_bits[0])
    for step in range(1, steps + 1):
        pick = rng.integers(0, n, batch)
        loss = train_step([tf.constant(b[pick], tf.float32) for b in fit_bits])
        if step % check_every and step != steps:
            continue
        current = bits_per_bit(model, validation_bits)
        logging.info("prob net step %d: train %.1f bits/crop, validation %.4f bits/bit", step, float(loss), current)
        if current < best:
            best, best_step, best_weights = current, step, model.prob_net.get_weights()
        elif step - best_step >= patience * check_every:
            break
    model.prob_net.set_weights(best_weights)
    return start, best, best_step


def keep_better_prob_net(model, candidates, calibration_bits, held_out_bits):
    """Leaves `model.prob_net` at the candidate weights that code `held_out_bits` in the
    fewest bits as shipped (integer net and bit tables calibrated on `calibration_bits`);
    returns (its name, its coding arrays, {name: bits per coded bit}).

    Candidates come in order of preference: a later one must be strictly better, so a
    re-fit never replaces the checkpoint's net unless it codes unseen crops better.
    """
    coded = sum(b.size for b in held_out_bits)
    best, costs = None, {}
    for name, weights in candidates.items():
        model.prob_net.set_weights(weights)
        arrays = coding_arrays_from_bits(model, calibration_bits)
        costs[name] = code_length(arrays, held_out_bits, model.config.iterations) / coded
        logging.info("prob net %s: held-out %.4f bits per coded bit as shipped (float net %.4f)",
                     name, costs[name], bits_per_bit(model, held_out_bits))
        if best is None or costs[name] < costs[best[0]]:
            best = (name, arrays)
    model.prob_net.set_weights(candidates[best[0]])
    logging.info("kept the %s prob net", best[0])
    return best[0], best[1], costs


def _centre(crop, side):
    top, left = (crop.shape[0] - side) // 2, (crop.shape[1] - side) // 2
    return crop[top:top + side, left:left + side]


def export_coding(model, calibration_folder, count, seed=0, pool=768, steps=1500, learning_rate=1e-3):
    """(coding arrays, bundle meta) of a trained recurrent model, its prob net fitted again.

    `count` crops of different training images calibrate the integer net and bit tables;
    up to `pool` crops of further images (POOL_CROP square) are split 1:1:6 into held-out,
    validation and fitting crops. The model's weights must already be the shipped
    (rounded) ones: the bits everything here is fitted on are those the encoder makes.
    """
    from tfcodec.images import calibration_crops, calibration_files
    from tfcodec.weights import assign_keras_weights, keras_weights_of

    pool = max(0, min(pool, len(calibration_files(calibration_folder)) - count))  # each crop its own image
    crops = calibration_crops(calibration_folder, count + pool, seed=seed)
    calibration, rest = crops[:count], [_centre(c, POOL_CROP) for c in crops[count:] if min(c.shape[:2]) >= POOL_CROP]
    calibration_bits = sign_bits(model, np.stack([_centre(c, min(min(c.shape[:2]) for c in calibration))
                                                  for c in calibration]))
    if len(rest) < MIN_POOL or not steps:
        logging.info("prob net: kept the checkpoint's (%d crops left to fit on, %d needed)", len(rest), MIN_POOL)
        return coding_arrays_from_bits(model, calibration_bits), {"prob_net": {"kept": "checkpoint"}}
    pool_bits = sign_bits(model, np.stack(rest))
    held = max(1, len(rest) // 8)
    held_out, validation, fit = (_split(pool_bits, 0, held), _split(pool_bits, held, 2 * held),
                                 _split(pool_bits, 2 * held, None))
    candidates = {"checkpoint": model.prob_net.get_weights()}
    start, best, best_step = fit_prob_net(model, fit, validation, steps, learning_rate=learning_rate, seed=seed)
    logging.info("prob net on sign bits: validation %.4f -> %.4f bits per coded bit (step %d)",
                 start, best, best_step)
    if best_step:
        assign_keras_weights(model, keras_weights_of(model))  # the re-fitted net at shipped precision
        candidates["re-fitted"] = model.prob_net.get_weights()
    kept, arrays, costs = keep_better_prob_net(model, candidates, calibration_bits, held_out)
    return arrays, {"prob_net": {"kept": kept, "held_out_bits_per_coded_bit": costs, "fit_steps": best_step}}
