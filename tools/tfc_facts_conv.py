"""Measures TFC 2.14 SignalConv2D conventions with impulses (run in the TFC venv):

    /work/tfc-venv/bin/python tools/tfc_facts_conv.py

Prints, for each (down/up, kernel, stride, corr) case, which of out[o] = sum_k in[s*o + k - P] w[k]
(down) or out[o] = sum_i in[i] w[o - s*i + Q] (up) matches, with w the layer kernel or flipped.
"""
import itertools, numpy as np, tensorflow as tf, tensorflow_compression as tfc
rng = np.random.default_rng(0)

def layer_matrix(layer, shape):
    """Linear map (out_h, out_w, in_h, in_w) via impulses; 1 in / 1 out channel."""
    H, W = shape
    cols = []
    for i in range(H):
        for j in range(W):
            x = np.zeros((1, H, W, 1), np.float32); x[0, i, j, 0] = 1
            cols.append(layer(x).numpy()[0, :, :, 0])
    out = np.stack(cols, -1)
    return out.reshape(out.shape[0], out.shape[1], H, W)

def down_formula(w, shape, P, s):
    K = w.shape[0]; H, W = shape
    oh, ow = -(-H // s), -(-W // s)
    M = np.zeros((oh, ow, H, W))
    for o1, o2, k1, k2 in itertools.product(range(oh), range(ow), range(K), range(K)):
        a, b = s * o1 + k1 - P, s * o2 + k2 - P
        if 0 <= a < H and 0 <= b < W: M[o1, o2, a, b] += w[k1, k2]
    return M

def up_formula(w, shape, Q, s):
    K = w.shape[0]; H, W = shape
    oh, ow = H * s, W * s
    M = np.zeros((oh, ow, H, W))
    for o1, o2, i1, i2 in itertools.product(range(oh), range(ow), range(H), range(W)):
        k1, k2 = o1 - s * i1 + Q, o2 - s * i2 + Q
        if 0 <= k1 < K and 0 <= k2 < K: M[o1, o2, i1, i2] += w[k1, k2]
    return M

def identify(kind, K, s, corr, param, sizes):
    kw = dict(corr=corr, padding="same_zeros", use_bias=False, kernel_parameter=param)
    kw["strides_down" if kind == "down" else "strides_up"] = s
    layer = tfc.SignalConv2D(1, (K, K), **kw)
    layer.build((None, None, None, 1))
    # random non-symmetric kernel
    if param == "variable":
        layer.kernel_parameter.assign(rng.normal(size=(K, K, 1, 1)).astype(np.float32))
    else:
        p = layer.kernel_parameter
        p.real.assign(rng.normal(size=p.real.shape).astype(np.float32))
        p.imag.assign(rng.normal(size=p.imag.shape).astype(np.float32))
    ker = layer.kernel.numpy()[:, :, 0, 0]
    found = []
    for flip, P in itertools.product((False, True), range(-K, 2 * K)):
        w = ker[::-1, ::-1] if flip else ker
        ok = True
        for sz in sizes:
            M = layer_matrix(layer, sz)
            R = (down_formula if kind == "down" else up_formula)(w, sz, P, s)
            if M.shape != R.shape or not np.allclose(M, R, atol=1e-5):
                ok = False; break
        if ok: found.append(("flipped" if flip else "kernel", P))
    outshapes = [layer(np.zeros((1,) + sz + (1,), np.float32)).shape[1:3] for sz in sizes]
    print(f"{kind:4s} K={K} s={s} corr={corr} param={param}: sizes {sizes} -> {outshapes}; "
          f"matches (w, {'P' if kind=='down' else 'Q'}) = {found}; kernel shape {layer.kernel.shape}")

for param in ("rdft", "variable"):
    identify("down", 5, 2, True, param, [(8, 8), (9, 7)])
    identify("up", 5, 2, False, param, [(4, 4), (5, 3)])
    identify("down", 3, 1, True, param, [(6, 6), (7, 5)])
    identify("down", 5, 1, True, param, [(6, 6), (7, 5)])
    identify("up", 3, 1, False, param, [(6, 6), (7, 5)])
    identify("up", 5, 2, True, param, [(4, 4), (5, 3)])
    identify("down", 5, 2, False, param, [(8, 8), (9, 7)])

# what the layer's kernel attribute is: kernel_parameter variables and shapes
l = tfc.SignalConv2D(4, (5, 5), corr=False, strides_up=2, padding="same_zeros", use_bias=True)
l.build((None, None, None, 3))
print("rdft variables:", [(v.name, v.shape) for v in l.variables], "kernel", l.kernel.shape, "bias", l.bias.shape)
p = l.kernel_parameter
k = tf.signal.irfft2d(tf.complex(p.real, p.imag) * 5.0, fft_length=(5, 5))
k = tf.transpose(k, (2, 3, 0, 1))
print("irfft2d(complex(real,imag)*sqrt(25)) transposed (2,3,0,1) == layer.kernel:", np.allclose(k, l.kernel, atol=1e-6))
l2 = tfc.SignalConv2D(4, (5, 5), corr=True, strides_down=2, padding="same_zeros", use_bias=True, kernel_parameter="variable")
l2.build((None, None, None, 3))
print("variable variables:", [(v.name, v.shape) for v in l2.variables])
# against PyTorch style: corr down = PyTorch Conv2d with weight[o,i,kh,kw] = kernel[kh,kw,i,o]
x = rng.normal(size=(1, 9, 8, 3)).astype(np.float32)
ref = tf.nn.conv2d(tf.pad(x, [[0,0],[2,2],[2,2],[0,0]]), l2.kernel, 2, "VALID")
print("corr down == zero-pad 2 + VALID conv2d stride 2 (Conv2d(k5,s2,p2)):", np.allclose(ref, l2(x) - l2.bias, atol=1e-5))
