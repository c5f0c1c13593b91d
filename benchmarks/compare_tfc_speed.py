"""Where tfcodec's training step spends its time in benchmarks/compare_tfc.py's set-up (a measurement
behind docs/training.md's "step for step" section). In the default Python (TF 2.21 / Keras 3):

    PYTHONPATH=. python benchmarks/compare_tfc_speed.py --init /tmp/ctfc/init/ckpt-1 --crops /tmp/ctfc/crops.npy

times, on the same batches, steps/s (the first --skip steps left out) of:
  imported    the model compare_tfc.py trains: the TFC checkpoint imported (layout "tfc": centred
              convolutions, transposed hyper-synthesis), rd_loss(proxy="noise"), gains frozen
  native      tfcodec's own bmshj2018 at the same sizes (layout "tfcodec": 'same' convolutions,
              sub-pixel hyper-synthesis, no |y|), rd_loss(proxy="noise"), gains frozen
  forward     the imported model's loss alone, without gradients or Adam
The TFC side's number is benchmarks/tfc_model.py's own timer (run in the TFC venv).
"""

import argparse
import json
import time

import numpy as np


def main():
    import keras
    import tensorflow as tf

    from tfcodec.importers.tfc import model_from_checkpoint
    from tfcodec.models import hyperprior
    from tfcodec.models.config import HyperpriorConfig

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--init", required=True)
    p.add_argument("--crops", required=True)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--skip", type=int, default=10)
    p.add_argument("--lmbda", type=float, default=0.013)
    p.add_argument("--gdn", choices=("classic", "simplified"), default="classic", help="as compare_tfc.py's --gdn")
    args = p.parse_args()
    crops = np.load(args.crops, mmap_mode="r")

    def batch(i):
        idx = (np.arange(8) + i * 8) % crops.shape[0]
        return tf.constant(np.asarray(crops[idx], np.float32) / np.float32(255.0))

    def timed(model, train=True):
        model.gains.trainable = False
        optimizer = keras.optimizers.Adam(1e-4)
        variables = model.trainable_variables

        @tf.function
        def step(x):
            q = tf.ones((tf.shape(x)[0],))
            if not train:
                return tf.reduce_mean(model.rd_loss(x, q, training=True, proxy="noise")[0])
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(model.rd_loss(x, q, training=True, proxy="noise")[0])
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return loss

        for i in range(args.skip):
            float(step(batch(i)))
        start = time.perf_counter()
        for i in range(args.skip, args.steps):
            float(step(batch(i)))
        return (args.steps - args.skip) / (time.perf_counter() - start)

    _, imported = model_from_checkpoint(args.init, lmbda=args.lmbda, gdn=args.gdn)
    c = imported.config
    native = hyperprior.build("bmshj2018-native", HyperpriorConfig(
        "bmshj2018", c.num_filters, c.latent_channels, c.hyper_filters, c.hyper_channels, predict_means=False,
        gain_levels=2, lambda_min=args.lmbda, lambda_max=args.lmbda))
    result = {"imported": timed(imported), "native": timed(native), "forward": timed(imported, train=False),
              "imported_again": timed(model_from_checkpoint(args.init, lmbda=args.lmbda, gdn=args.gdn)[1])}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
