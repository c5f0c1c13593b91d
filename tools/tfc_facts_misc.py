"""Measures TFC 2.14 GDN, DeepFactorized and entropy-model conventions (run in the TFC venv):

    /work/tfc-venv/bin/python tools/tfc_facts_misc.py
"""
import itertools, numpy as np, tensorflow as tf, tensorflow_compression as tfc
rng = np.random.default_rng(0)
np.set_printoptions(precision=6, suppress=True)

# --- multi-channel check of up conv, numpy formula
l = tfc.SignalConv2D(4, (5, 5), corr=False, strides_up=2, padding="same_zeros", use_bias=True,
                     bias_initializer=tf.keras.initializers.RandomNormal())
x = rng.normal(size=(1, 5, 3, 3)).astype(np.float32)
y = l(x).numpy()[0]
K = l.kernel.numpy(); b = l.bias.numpy()
ref = np.zeros((10, 6, 4)) + b
for o1, o2, i1, i2 in itertools.product(range(10), range(6), range(5), range(3)):
    k1, k2 = o1 - 2 * i1 + 2, o2 - 2 * i2 + 2
    if 0 <= k1 < 5 and 0 <= k2 < 5:
        ref[o1, o2] += x[0, i1, i2] @ K[k1, k2]   # (Cin,) @ (Cin, Cout)
print("up conv multi-channel: out[o,:] = b + sum_i in[i,:] @ kernel[o-2i+2] :", np.allclose(y, ref, atol=1e-5))

# --- GDN
for inv in (False, True):
    g = tfc.GDN(inverse=inv)
    g.build((None, None, None, 3))
    print("GDN inverse=%s vars:" % inv, [(v.name, v.shape) for v in g.variables],
          "alpha", g.alpha.numpy(), "epsilon", g.epsilon.numpy(),
          "alpha_parameter", type(g.alpha_parameter).__name__)
g = tfc.GDN()
g.build((None, None, None, 3))
beta = np.array([0.5, 1.0, 2.0], np.float32)
gamma = np.array([[0.1, 0.02, 0.0], [0.0, 0.2, 0.01], [0.03, 0.0, 0.3]], np.float32)
ped = (2 ** -18) ** 2
g.beta_parameter.variable.assign(np.sqrt(beta + ped))
g.gamma_parameter.variable.assign(np.sqrt(gamma + ped))
print("effective beta", g.beta.numpy(), "gamma matches", np.allclose(g.gamma, gamma))
x = rng.normal(size=(1, 2, 2, 3)).astype(np.float32)
out = g(x).numpy()
n_ji = np.abs(x) @ gamma + beta      # sum_j gamma[j,i] |x_j|
n_ij = np.abs(x) @ gamma.T + beta
print("default GDN: y = x / (beta + |x| @ gamma)  [gamma[j,i]]:", np.allclose(out, x / n_ji), " gamma[i,j]:", np.allclose(out, x / n_ij))
gc = tfc.GDN(alpha_parameter=2, epsilon_parameter=0.5)
gc.build((None, None, None, 3))
gc.beta_parameter.variable.assign(np.sqrt(beta + ped)); gc.gamma_parameter.variable.assign(np.sqrt(gamma + ped))
print("GDN(alpha=2, eps=.5): y = x / sqrt(beta + x^2 @ gamma):", np.allclose(gc(x), x / np.sqrt(x * x @ gamma + beta), atol=1e-6),
      "vars", [v.name for v in gc.variables])
gi = tfc.GDN(inverse=True, alpha_parameter=2, epsilon_parameter=0.5); gi.build((None, None, None, 3))
gi.beta_parameter.variable.assign(np.sqrt(beta + ped)); gi.gamma_parameter.variable.assign(np.sqrt(gamma + ped))
print("IGDN(alpha=2, eps=.5): y = x * sqrt(beta + x^2 @ gamma):", np.allclose(gi(x), x * np.sqrt(x * x @ gamma + beta), atol=1e-6))
# minimum / bound behaviour
g.beta_parameter.variable.assign([0.0, -1.0, 1e-4])
print("beta from stored [0,-1,1e-4]:", g.beta.numpy(), "bound^2-ped =", (1e-6 + ped) - ped)
g.gamma_parameter.variable.assign(-np.ones((3, 3)))
print("gamma from stored -1:", g.gamma.numpy()[0])
print("GDN init: beta", tfc.GDN().beta_initializer, )
g0 = tfc.GDN(); g0.build((None, 3))
print("init beta", g0.beta.numpy(), "init gamma diag", np.diag(g0.gamma.numpy()), "stored beta", g0.beta_parameter.variable.numpy())

# --- DeepFactorized
d = tfc.NoisyDeepFactorized(batch_shape=(2,))
print("NoisyDeepFactorized vars:", [(v.name, tuple(v.shape)) for v in d.variables])
base = d.base
print("defaults num_filters", base.num_filters, "init_scale", base.init_scale)
for v in base.variables:
    v.assign(rng.normal(size=v.shape).astype(np.float32) * 0.5)
def my_logits(xv):  # xv: (N, C)
    C = xv.shape[1]
    h = xv.T[:, None, :]  # (C, 1, N)
    nf = len(base.num_filters)
    Ms = {v.name.split(":")[0].split("/")[-1]: v.numpy() for v in base.variables}
    for i in range(nf + 1):
        h = np.log1p(np.exp(Ms[f"matrix_{i}"])) @ h + Ms[f"bias_{i}"]
        if i < nf:
            h = h + np.tanh(Ms[f"factor_{i}"]) * np.tanh(h)
    return h[:, 0, :].T
xs = rng.normal(size=(7, 2)).astype(np.float32) * 3
cdf = base.cdf(xs).numpy()
print("DeepFactorized cdf == sigmoid(my_logits):", np.allclose(cdf, 1 / (1 + np.exp(-my_logits(xs))), atol=1e-6))
lik = d.prob(xs).numpy()
ml = lambda t: 1 / (1 + np.exp(-my_logits(t)))
print("Noisy prob == F(x+.5)-F(x-.5):", np.allclose(lik, ml(xs + .5) - ml(xs - .5), atol=1e-6))
# the 'sign trick'? compare with upper/lower using survival
s = np.sign(my_logits(xs + .5) + my_logits(xs - .5))
alt = np.abs(1 / (1 + np.exp(s * my_logits(xs + .5))) - 1 / (1 + np.exp(s * my_logits(xs - .5))))
print("  (same as sign-trick form):", np.allclose(lik, alt, atol=1e-6))
# quantization offset
em = tfc.ContinuousBatchedEntropyModel(d, coding_rank=1, compression=True)
off = em.quantization_offset.numpy()
# median via bisection on logits=0
lo, hi = np.full(2, -50.0), np.full(2, 50.0)
for _ in range(200):
    mid = (lo + hi) / 2
    v = my_logits(mid[None].astype(np.float64))[0]
    lo = np.where(v < 0, mid, lo); hi = np.where(v < 0, hi, mid)
med = (lo + hi) / 2
print("median (bisection)", med, "TFC offset", off, "median-round(median)", med - np.round(med))
print("entropy model variables:", [(v.name, tuple(v.shape), v.trainable) for v in em.variables])
z = np.array([[0.49, -1.3], [2.51, 0.2]], np.float32)
q = em.quantize(z).numpy()
print("quantize", z.tolist(), "->", q.tolist(), " round(z-off)+off:", (np.round(z - off) + off).tolist())
st = em.compress(z); dz = em.decompress(st, ()).numpy()
print("decompress(compress(z)) == quantize(z):", np.allclose(dz, q))
_, bits = em(z, training=False)
print("bits training=False", bits.numpy(), "== -log2 prob(quantize(z)):", -np.log2(d.prob(q).numpy()).sum(-1))
emt = tfc.ContinuousBatchedEntropyModel(d, coding_rank=1, compression=False)
print("compression=False quantization_offset:", emt.quantization_offset)

# --- indexed
scale_fn = lambda i: tf.math.exp(tf.math.log(0.11) + (tf.math.log(256.) - tf.math.log(0.11)) / 63 * i)
emi = tfc.LocationScaleIndexedEntropyModel(tfc.NoisyNormal, 64, scale_fn, coding_rank=1, compression=False)
y = np.array([[0.3, -2.2, 5.0, 0.7]], np.float32)
for idx in ([0.0, 10.5, 63.9, -3.0], [10.2, 10.7, 70.0, 62.999]):
    idx = np.array([idx], np.float32)
    _, bits = emi(y, idx, training=False)
    yq = np.round(y)
    def nll(sc):
        from math import erf, sqrt
        return sum(-np.log2(0.5 * (erf((v + .5) / (s * sqrt(2))) - erf((v - .5) / (s * sqrt(2))))) for v, s in zip(yq[0], sc))
    cont = scale_fn(np.clip(idx, 0, 63)).numpy()[0]
    flo = scale_fn(np.floor(np.clip(idx, 0, 63))).numpy()[0]
    print(f"indexes {idx[0]}: bits(training=False) {bits.numpy()[0]:.6f}; continuous-clipped scales {nll(cont):.6f}; floor {nll(flo):.6f}")
emc = tfc.LocationScaleIndexedEntropyModel(tfc.NoisyNormal, 64, scale_fn, coding_rank=1, compression=True)
print("indexed compression=True vars:", [(v.name, tuple(v.shape)) for v in emc.variables][:6])
# compress with fractional indexes equals compress with floor / round?
y = rng.normal(size=(1, 200)).astype(np.float32) * 3
idx = rng.uniform(-2, 66, size=(1, 200)).astype(np.float32)
s = emc.compress(y, idx).numpy()[0]
for name, ii in (("floor(clip)", np.floor(np.clip(idx, 0, 63))), ("round(clip)", np.round(np.clip(idx, 0, 63))), ("trunc", np.trunc(idx).clip(0, 63))):
    print("compress with", name, "indexes gives identical string:", emc.compress(y, ii).numpy()[0] == s)
print("decompress with fractional idx == round(y):", np.allclose(emc.decompress(emc.compress(y, idx), idx), np.round(y)))
print("tf.round(0.5), tf.round(1.5), tf.round(-0.5):", tf.round([0.5, 1.5, -0.5, 2.5]).numpy())
