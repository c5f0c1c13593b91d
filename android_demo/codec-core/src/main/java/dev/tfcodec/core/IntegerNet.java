package dev.tfcodec.core;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;

/**
 * The integer entropy-parameter nets of {@code tfcodec/entropy/integer_net.py}, bit for bit.
 *
 * <p>The encoder and the decoder both run these nets to pick the range coder's tables (hyper
 * synthesis, and the channel-wise model's per-slice mean and scale nets); one value off and the
 * stream decodes to garbage, so they run in exact integer arithmetic:
 * <ul>
 *   <li>activations are ints saturated to {@code +-(2^20 - 1)} ({@link #ACTIVATION_LIMIT});</li>
 *   <li>a stride-1 'same' convolution (odd kernel, zero padding) accumulates
 *       {@code bias + sum(w * x)} in 64 bits (Python: float64 GEMM, exact because every sum stays
 *       below 2^53), then shifts each output channel by its own amount with round-half-up
 *       ({@code (acc + 2^(s-1)) >> s}, or {@code acc << -s} for a negative shift) and saturates;
 *       </li>
 *   <li>ReLU; LeakyReLU (imported models), whose negative side is multiplied by an integer
 *       slope at 2^-16 ({@link #SLOPE_EXPONENT}) and floored: {@code x < 0 ? (x * slope) >> 16 : x}
 *       in 64 bits, as numpy's {@code >>}; and DepthToSpace in TensorFlow's DCR order (a 5x5
 *       stride-2 transposed convolution is stored already rewritten as a convolution and a
 *       depth-to-space).</li>
 * </ul>
 * The input is saturated first, as in Python. Nets are read from the coding arrays
 * ({@code coding.npz}, keys {@code <prefix>/io}, {@code <prefix>/<i>/kind|weights|bias|shift});
 * a layer's {@code kind} is {@code [kind, parameter]}, the parameter being a depth-to-space block
 * or a LeakyReLU slope. A kind this class does not know is refused.
 *
 * <p>Instances are immutable; {@link #apply} may run on several threads at once.
 */
public final class IntegerNet {
    public static final int ACTIVATION_BITS = 20;
    public static final int ACTIVATION_LIMIT = (1 << ACTIVATION_BITS) - 1;
    private static final int CONV = 0;
    private static final int RELU = 1;
    private static final int DEPTH_TO_SPACE = 2;
    private static final int LEAKY_RELU = 3;
    /** LeakyReLU slopes are integers at this exponent ({@code integer_net.SLOPE_EXPONENT}). */
    public static final int SLOPE_EXPONENT = 16;
    /** Above this many output pixels a convolution is split over the executor's threads. */
    private static final int PARALLEL_PIXELS = 64;

    private static final class Layer {
        final int kind;
        final int block;
        final int slope;
        final int kh;
        final int kw;
        final int cin;
        final int cout;
        final int[] weights;  // [kh][kw][cin][cout]
        final long[] bias;
        final int[] shift;

        Layer(int kind, int block, int slope) {
            this.kind = kind;
            this.block = block;
            this.slope = slope;
            this.kh = this.kw = this.cin = this.cout = 0;
            this.weights = null;
            this.bias = null;
            this.shift = null;
        }

        Layer(int kh, int kw, int cin, int cout, int[] weights, long[] bias, int[] shift) {
            this.kind = CONV;
            this.block = 0;
            this.slope = 0;
            this.kh = kh;
            this.kw = kw;
            this.cin = cin;
            this.cout = cout;
            this.weights = weights;
            this.bias = bias;
            this.shift = shift;
        }
    }

    private final Layer[] layers;
    public final int inputExponent;
    public final int outputExponent;
    public final String name;

    private IntegerNet(String name, Layer[] layers, int inputExponent, int outputExponent) {
        this.name = name;
        this.layers = layers;
        this.inputExponent = inputExponent;
        this.outputExponent = outputExponent;
    }

    /** Reads the net stored under {@code prefix} (e.g. {@code int/hyper_synthesis}). */
    public static IntegerNet fromArrays(Map<String, NdArray> arrays, String prefix) throws TfcFormatException {
        long[] io = get(arrays, prefix + "/io").requireInteger(prefix + "/io")
                .requireShape(prefix + "/io", 3).toLongs();
        long count = io[2];
        if (count < 1 || count > 1000) {
            throw new TfcFormatException(prefix + ": " + count + " layers");
        }
        Layer[] layers = new Layer[(int) count];
        for (int i = 0; i < count; i++) {
            String p = prefix + "/" + i;
            long[] kind = get(arrays, p + "/kind").requireInteger(p + "/kind").requireShape(p + "/kind", 2).toLongs();
            if (kind[0] == CONV) {
                NdArray w = get(arrays, p + "/weights").requireInteger(p + "/weights")
                        .requireShape(p + "/weights", -1, -1, -1, -1);
                int kh = w.dim(0);
                int kw = w.dim(1);
                int cin = w.dim(2);
                int cout = w.dim(3);
                if (kh % 2 == 0 || kw % 2 == 0 || cin < 1 || cout < 1) {
                    throw new TfcFormatException(p + ": a " + kh + "x" + kw + " kernel (integer nets take odd "
                            + "kernels) with " + cin + " -> " + cout + " channels");
                }
                int[] weights = w.toInts(p + "/weights");
                long[] bias = get(arrays, p + "/bias").requireInteger(p + "/bias").requireShape(p + "/bias", cout)
                        .toLongs();
                int[] shift = get(arrays, p + "/shift").requireInteger(p + "/shift")
                        .requireShape(p + "/shift", cout).toInts(p + "/shift");
                for (int s : shift) {
                    // Python's int64 shifts match Java's for |s| <= 63; nets use far less.
                    if (s < -63 || s > 63) {
                        throw new TfcFormatException(p + ": shift " + s + " outside [-63, 63]");
                    }
                }
                layers[i] = new Layer(kh, kw, cin, cout, weights, bias, shift);
            } else if (kind[0] == RELU) {
                layers[i] = new Layer(RELU, 0, 0);
            } else if (kind[0] == DEPTH_TO_SPACE) {
                if (kind[1] < 1 || kind[1] > 64) {
                    throw new TfcFormatException(p + ": depth-to-space block " + kind[1]);
                }
                layers[i] = new Layer(DEPTH_TO_SPACE, (int) kind[1], 0);
            } else if (kind[0] == LEAKY_RELU) {
                // Keras' slopes are in [0, 1]: the output is then no larger than the input, so
                // it stays within the activation limit and 32 bits, as Python's does.
                if (kind[1] < 0 || kind[1] > 1L << SLOPE_EXPONENT) {
                    throw new TfcFormatException(p + ": LeakyReLU slope " + kind[1] + " outside [0, 2^"
                            + SLOPE_EXPONENT + "]");
                }
                layers[i] = new Layer(LEAKY_RELU, 0, (int) kind[1]);
            } else {
                throw new TfcFormatException(p + ": unknown layer kind " + kind[0]);
            }
        }
        return new IntegerNet(prefix, layers, (int) io[0], (int) io[1]);
    }

    private static NdArray get(Map<String, NdArray> arrays, String key) throws TfcFormatException {
        NdArray a = arrays.get(key);
        if (a == null) {
            throw new TfcFormatException("the coding arrays have no " + key);
        }
        return a;
    }

    /**
     * The output channel count for {@code inputChannels} input channels.
     *
     * @throws TfcFormatException if the layers do not fit together
     */
    public int outputChannels(int inputChannels) throws TfcFormatException {
        int c = inputChannels;
        for (int i = 0; i < layers.length; i++) {
            Layer l = layers[i];
            if (l.kind == CONV) {
                if (l.cin != c) {
                    throw new TfcFormatException(name + "/" + i + ": takes " + l.cin + " channels, gets " + c);
                }
                c = l.cout;
            } else if (l.kind == DEPTH_TO_SPACE) {
                if (c % (l.block * l.block) != 0) {
                    throw new TfcFormatException(name + "/" + i + ": " + c + " channels do not fill "
                            + l.block + "x" + l.block + " blocks");
                }
                c /= l.block * l.block;
            }
        }
        return c;
    }

    /** The spatial growth of the net (the product of its depth-to-space blocks). */
    public int upsampling() {
        int f = 1;
        for (Layer l : layers) {
            if (l.kind == DEPTH_TO_SPACE) {
                f *= l.block;
            }
        }
        return f;
    }

    /** Runs the net on one thread. {@code x} is not modified. */
    public IntTensor apply(IntTensor x) {
        return apply(x, null);
    }

    /**
     * Runs the net; convolutions are split by rows over {@code pool} when it is not null (the
     * result is the same: every output is computed independently). {@code x} is not modified.
     */
    public IntTensor apply(IntTensor x, ExecutorService pool) {
        int[] v = new int[x.data.length];
        for (int i = 0; i < v.length; i++) {
            v[i] = saturate(x.data[i]);
        }
        IntTensor t = new IntTensor(x.height, x.width, x.channels, v);
        for (Layer l : layers) {
            switch (l.kind) {
                case CONV:
                    t = conv(t, l, pool);
                    break;
                case RELU:
                    for (int i = 0; i < t.data.length; i++) {
                        if (t.data[i] < 0) {
                            t.data[i] = 0;
                        }
                    }
                    break;
                case LEAKY_RELU:
                    leakyRelu(t.data, l.slope);
                    break;
                default:
                    t = depthToSpace(t, l.block);
            }
        }
        return t;
    }

    /** Python's {@code np.where(x < 0, (x * slope) >> 16, x)}: the arithmetic shift floors. */
    static void leakyRelu(int[] x, int slope) {
        for (int i = 0; i < x.length; i++) {
            if (x[i] < 0) {
                x[i] = (int) (((long) x[i] * slope) >> SLOPE_EXPONENT);
            }
        }
    }

    static int saturate(long v) {
        return (int) Math.max(-ACTIVATION_LIMIT, Math.min(ACTIVATION_LIMIT, v));
    }

    /** {@code acc * 2^-shift} rounded half up (Python's {@code _shift_round}), in int64 arithmetic. */
    static long shiftRound(long acc, int shift) {
        if (shift <= 0) {
            return acc << -shift;
        }
        return (acc + (1L << (shift - 1))) >> shift;
    }

    private static IntTensor conv(final IntTensor in, final Layer l, ExecutorService pool) {
        if (in.channels != l.cin) {
            throw new IllegalArgumentException("convolution takes " + l.cin + " channels, got " + in.channels);
        }
        final IntTensor out = new IntTensor(in.height, in.width, l.cout);
        int rows = in.height;
        if (pool == null || (long) in.height * in.width < PARALLEL_PIXELS || rows < 2) {
            convRows(in, l, out, 0, rows);
            return out;
        }
        int parts = Math.min(rows, Math.max(2, Runtime.getRuntime().availableProcessors() * 2));
        List<Callable<Void>> tasks = new ArrayList<>();
        for (int k = 0; k < parts; k++) {
            final int from = rows * k / parts;
            final int to = rows * (k + 1) / parts;
            tasks.add(new Callable<Void>() {
                @Override
                public Void call() {
                    convRows(in, l, out, from, to);
                    return null;
                }
            });
        }
        try {
            for (Future<Void> f : pool.invokeAll(tasks)) {
                f.get();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running " + "an integer net", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
        return out;
    }

    private static void convRows(IntTensor in, Layer l, IntTensor out, int fromRow, int toRow) {
        final int h = in.height;
        final int w = in.width;
        final int cin = l.cin;
        final int cout = l.cout;
        final int ph = l.kh / 2;
        final int pw = l.kw / 2;
        final int[] x = in.data;
        final int[] wt = l.weights;
        final long[] acc = new long[cout];
        for (int oy = fromRow; oy < toRow; oy++) {
            for (int ox = 0; ox < w; ox++) {
                System.arraycopy(l.bias, 0, acc, 0, cout);
                for (int i = 0; i < l.kh; i++) {
                    int iy = oy + i - ph;
                    if (iy < 0 || iy >= h) {
                        continue;
                    }
                    for (int j = 0; j < l.kw; j++) {
                        int ix = ox + j - pw;
                        if (ix < 0 || ix >= w) {
                            continue;
                        }
                        int inBase = (iy * w + ix) * cin;
                        int wBase = (i * l.kw + j) * cin * cout;
                        for (int ci = 0; ci < cin; ci++) {
                            int v = x[inBase + ci];
                            if (v == 0) {
                                continue;  // frequent after a ReLU
                            }
                            long lv = v;
                            int wo = wBase + ci * cout;
                            for (int co = 0; co < cout; co++) {
                                acc[co] += lv * wt[wo + co];
                            }
                        }
                    }
                }
                int o = (oy * w + ox) * cout;
                for (int co = 0; co < cout; co++) {
                    out.data[o + co] = saturate(shiftRound(acc[co], l.shift[co]));
                }
            }
        }
    }

    /** TensorFlow's depth_to_space (DCR): out[y*b+i][x*b+j][c] = in[y][x][(i*b+j)*C'+c]. */
    static IntTensor depthToSpace(IntTensor in, int block) {
        int oc = in.channels / (block * block);
        if (oc * block * block != in.channels) {
            throw new IllegalArgumentException(in.channels + " channels do not fill " + block + "x" + block + " blocks");
        }
        IntTensor out = new IntTensor(in.height * block, in.width * block, oc);
        for (int y = 0; y < in.height; y++) {
            for (int x = 0; x < in.width; x++) {
                int src = (y * in.width + x) * in.channels;
                for (int i = 0; i < block; i++) {
                    for (int j = 0; j < block; j++) {
                        int dst = ((y * block + i) * out.width + x * block + j) * oc;
                        System.arraycopy(in.data, src + (i * block + j) * oc, out.data, dst, oc);
                    }
                }
            }
        }
        return out;
    }
}
