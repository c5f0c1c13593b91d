package dev.tfcodec.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;

/**
 * Entropy coding of the hyperprior family's latents: the Java port of
 * {@code tfcodec.codecs.latent_coding.LatentCoder}, so a {@code .tfc} file decodes on the phone
 * to exactly the latents {@code tfcodec decompress} rebuilds, and a file encoded on the phone
 * is the file Python would write for the same analysis outputs.
 *
 * <p>Stream layout (docs/format.md): {@code S} strings for the hyper-latent z, then {@code S}
 * strings for each latent slice; within a part, element {@code (c, i, j)} (channel-major) goes to
 * string {@code c / (C / S)}. z is coded as {@code round(z) + offset[c]} with row {@code c} of the
 * factorized table; a slice element as {@code round(y - mean) + offset[r]} with the Gaussian row
 * {@code r = ScaleTable.index(log_scale)}. Means and log-scales come from the
 * {@link IntegerNet}s (hyper synthesis; per-slice nets for channel-wise models), at 2^-8
 * fixed point; a decoded latent is {@code symbol * 2^8 + mean}, saturated.
 *
 * <p>Models imported from CompressAI or tensorflow-compression (the config's {@code layout})
 * differ only in their coding arrays, which this class reads when they are there:
 * {@code factorized/centres}, z's per-channel bin centres at the hyper-synthesis net's input
 * exponent {@code e} (z is coded as {@code round(z - centre / 2^e)}, and the net's input is
 * {@code z_int * 2^e + centre}; absent, the centres are 0 and {@code e} is 0 in practice), and
 * {@code gaussian/thresholds}, the 63 thresholds that pick the Gaussian row in place of
 * {@link ScaleTable}'s log-scale ones (CompressAI's hyper-synthesis gives scales themselves).
 *
 * <p>Built from the export's coding arrays ({@code coding.npz}); immutable apart from the
 * optional executor for the nets. Every problem with a stream or with the arrays is a
 * {@link TfcFormatException}.
 */
public final class LatentCoder {
    public static final int STRIDE = 64;
    public static final int LATENT_STRIDE = 16;
    public static final int HYPER_STRIDE = 4;
    public static final int MAX_STREAMS = 32;
    public static final int BYTES_PER_STREAM = 160;
    public static final int RATE_SCALE = 1000;
    public static final int PARAM_EXPONENT = 8;

    /** What the decoder rebuilds from a stream (and the encoder keeps): fixed-point latents. */
    public static final class Latents {
        /** One tensor per slice, {@code lh x lw x M/numSlices}, values at 2^-8. */
        public final List<IntTensor> slices;
        /** The mean half of the hyper-synthesis output ({@code lh x lw x M}), null for scale-only models. */
        public final IntTensor meanFeatures;
        /** The rounded hyper-latent, {@code lh/4 x lw/4 x Z}: integers about z's bin centres (as coded). */
        public final IntTensor z;

        Latents(List<IntTensor> slices, IntTensor meanFeatures, IntTensor z) {
            this.slices = slices;
            this.meanFeatures = meanFeatures;
            this.z = z;
        }
    }

    /** An encoded stream: its strings (in container order) and the latents a decoder rebuilds. */
    public static final class Encoded {
        public final List<byte[]> strings;
        public final int streamsPerPart;
        public final Latents latents;

        Encoded(List<byte[]> strings, int streamsPerPart, Latents latents) {
            this.strings = strings;
            this.streamsPerPart = streamsPerPart;
            this.latents = latents;
        }
    }

    public final HyperpriorConfig config;
    public final String modelId;
    private final byte[] weightsHash;
    private final CdfTable gaussTable;
    private final int[] gaussRaw;
    private final int gaussWidth;
    private final int[] gaussOffsets;
    private final CdfTable zTable;
    private final int[] zRaw;
    private final int zWidth;
    private final int[] zOffsets;
    /** z's bin centres at 2^-zExponent, one per channel (zeros when the arrays have none). */
    private final long[] zCentres;
    private final int zExponent;
    /** The Gaussian row thresholds: the arrays' {@code gaussian/thresholds} or the log-scale ones. */
    private final int[] thresholds;
    private final IntegerNet hyperSynthesis;
    private final IntegerNet[] meanNets;
    private final IntegerNet[] scaleNets;
    private volatile ExecutorService pool;

    public LatentCoder(HyperpriorConfig config, Map<String, NdArray> coding, String modelId, byte[] weightsHash)
            throws TfcFormatException {
        this.config = config;
        this.modelId = modelId;
        this.weightsHash = weightsHash.clone();
        NdArray gauss = array(coding, "gaussian/lookup").requireInteger("gaussian/lookup")
                .requireShape("gaussian/lookup", ScaleTable.LEVELS, -1);
        gaussRaw = gauss.toInts("gaussian/lookup");
        gaussWidth = gauss.dim(1);
        gaussTable = CdfTable.fromRows(rows(gaussRaw, ScaleTable.LEVELS, gaussWidth));
        gaussOffsets = array(coding, "gaussian/offsets").requireInteger("gaussian/offsets")
                .requireShape("gaussian/offsets", ScaleTable.LEVELS).toInts("gaussian/offsets");
        NdArray z = array(coding, "factorized/lookup").requireInteger("factorized/lookup")
                .requireShape("factorized/lookup", config.hyperChannels, -1);
        zRaw = z.toInts("factorized/lookup");
        zWidth = z.dim(1);
        zTable = CdfTable.fromRows(rows(zRaw, config.hyperChannels, zWidth));
        zOffsets = array(coding, "factorized/offsets").requireInteger("factorized/offsets")
                .requireShape("factorized/offsets", config.hyperChannels).toInts("factorized/offsets");
        hyperSynthesis = IntegerNet.fromArrays(coding, "int/hyper_synthesis");
        int features = hyperSynthesis.outputChannels(config.hyperChannels);
        int expected = config.predictMeans ? 2 * config.latentChannels : config.latentChannels;
        if (features != expected || hyperSynthesis.upsampling() != HYPER_STRIDE
                || hyperSynthesis.outputExponent != PARAM_EXPONENT) {
            throw new TfcFormatException("int/hyper_synthesis gives " + features + " channels at x"
                    + hyperSynthesis.upsampling() + " (2^-" + hyperSynthesis.outputExponent + "), expected "
                    + expected + " at x" + HYPER_STRIDE + " (2^-" + PARAM_EXPONENT + ") for " + config);
        }
        zExponent = hyperSynthesis.inputExponent;
        // Beyond 2^-20 every non-zero z saturates the net's input: no export has such a net.
        if (zExponent < 0 || zExponent > IntegerNet.ACTIVATION_BITS) {
            throw new TfcFormatException("int/hyper_synthesis: input exponent " + zExponent + " outside [0, "
                    + IntegerNet.ACTIVATION_BITS + "]");
        }
        NdArray centres = coding.get("factorized/centres");
        zCentres = centres == null ? new long[config.hyperChannels]
                : centres.requireInteger("factorized/centres")
                        .requireShape("factorized/centres", config.hyperChannels).toLongs();
        NdArray t = coding.get("gaussian/thresholds");
        if (t == null) {
            thresholds = ScaleTable.thresholds();
        } else {
            thresholds = t.requireInteger("gaussian/thresholds")
                    .requireShape("gaussian/thresholds", ScaleTable.LEVELS - 1).toInts("gaussian/thresholds");
            for (int i = 1; i < thresholds.length; i++) {
                // A row is the count of thresholds below a value: a binary search, as numpy's
                // searchsorted, gives it only for sorted thresholds.
                if (thresholds[i] < thresholds[i - 1]) {
                    throw new TfcFormatException("gaussian/thresholds are not sorted (element " + i + " = "
                            + thresholds[i] + " < " + thresholds[i - 1] + ")");
                }
            }
        }
        int slices = config.channelwise() ? config.numSlices : 0;
        meanNets = new IntegerNet[slices];
        scaleNets = new IntegerNet[slices];
        int width = config.sliceChannels();
        for (int i = 0; i < slices; i++) {
            meanNets[i] = sliceNet(coding, "int/mean_" + i, config.latentChannels + i * width, width);
            scaleNets[i] = sliceNet(coding, "int/scale_" + i, config.latentChannels + i * width, width);
        }
    }

    private static IntegerNet sliceNet(Map<String, NdArray> coding, String prefix, int in, int out)
            throws TfcFormatException {
        IntegerNet net = IntegerNet.fromArrays(coding, prefix);
        int got = net.outputChannels(in);
        if (got != out || net.upsampling() != 1 || net.inputExponent != PARAM_EXPONENT
                || net.outputExponent != PARAM_EXPONENT) {
            throw new TfcFormatException(prefix + " maps " + in + " channels to " + got + " (expected " + out
                    + ") or has other exponents than 2^-" + PARAM_EXPONENT);
        }
        return net;
    }

    private static NdArray array(Map<String, NdArray> coding, String key) throws TfcFormatException {
        NdArray a = coding.get(key);
        if (a == null) {
            throw new TfcFormatException("the coding arrays have no " + key);
        }
        return a;
    }

    private static int[][] rows(int[] flat, int n, int width) {
        int[][] out = new int[n][];
        for (int r = 0; r < n; r++) {
            out[r] = Arrays.copyOfRange(flat, r * width, (r + 1) * width);
        }
        return out;
    }

    /** Runs the integer nets' convolutions on this pool (null: the calling thread). */
    public void setExecutor(ExecutorService pool) {
        this.pool = pool;
    }

    public byte[] weightsHash() {
        return weightsHash.clone();
    }

    // -- the integer entropy-parameter path -------------------------------------------------

    /**
     * {mean features or null, scale features} at 2^-8 for the rounded hyper-latent (integers
     * about the bin centres): the net runs on {@code z_int * 2^e + centre}, saturated.
     */
    private IntTensor[] features(IntTensor zInt) {
        IntTensor in = new IntTensor(zInt.height, zInt.width, zInt.channels);
        int zc = zInt.channels;
        for (int i = 0; i < in.data.length; i++) {
            // z_int * 2^e is below 2^51 (e <= 20); the sum wraps, if ever, as numpy's int64 does.
            in.data[i] = IntegerNet.saturate(((long) zInt.data[i] << zExponent) + zCentres[i % zc]);
        }
        IntTensor f = hyperSynthesis.apply(in, pool);
        if (config.predictMeans) {
            int m = f.channels / 2;
            return new IntTensor[] {f.channels(0, m), f.channels(m, f.channels)};
        }
        return new IntTensor[] {null, f};
    }

    /** {mean, log-scale} of slice i, fixed point, from the features and the slices before it. */
    private IntTensor[] sliceParameters(int i, IntTensor meanFeat, IntTensor scaleFeat, List<IntTensor> decoded) {
        if (config.channelwise()) {
            IntTensor[] meanIn = new IntTensor[1 + decoded.size()];
            IntTensor[] scaleIn = new IntTensor[1 + decoded.size()];
            meanIn[0] = meanFeat;
            scaleIn[0] = scaleFeat;
            for (int k = 0; k < decoded.size(); k++) {
                meanIn[k + 1] = decoded.get(k);
                scaleIn[k + 1] = decoded.get(k);
            }
            return new IntTensor[] {meanNets[i].apply(IntTensor.concat(meanIn), pool),
                scaleNets[i].apply(IntTensor.concat(scaleIn), pool)};
        }
        int width = config.sliceChannels();
        int lo = i * width;
        IntTensor logScale = scaleFeat.channels(lo, lo + width);
        IntTensor mean = meanFeat != null ? meanFeat.channels(lo, lo + width)
                : new IntTensor(logScale.height, logScale.width, width);
        return new IntTensor[] {mean, logScale};
    }

    // -- decoding ------------------------------------------------------------------------------

    /** Python's {@code check_header}: the stream must be this model's, with a quality in [0, 1]. */
    public void checkHeader(Container c) throws TfcFormatException {
        if (!c.modelId().equals(modelId)) {
            throw new TfcFormatException("stream was made by model '" + c.modelId() + "', not '" + modelId
                    + "': decode it with that model's export");
        }
        if (!Arrays.equals(c.weightsHash(), weightsHash)) {
            throw new TfcFormatException("stream was made with other weights of " + modelId + " (weights "
                    + c.weightsHashHex() + ", these are " + Container.hex(weightsHash) + ")");
        }
        if (c.rate() > RATE_SCALE) {
            throw new TfcFormatException("corrupt stream: quality " + c.rate() / (double) RATE_SCALE
                    + " outside [0, 1]");
        }
    }

    /** Latent height (rows of y) for an image height: padded to 64, divided by 16. */
    public static int latentSize(int pixels) {
        return (pixels + STRIDE - 1) / STRIDE * STRIDE / LATENT_STRIDE;
    }

    /** The fixed-point latents of a parsed stream, exactly as the Python decoder rebuilds them. */
    public Latents decode(Container c) throws TfcFormatException {
        checkHeader(c);
        int groups = 1 + config.numSlices;
        int count = c.stringCount();
        if (count == 0 || count % groups != 0) {
            throw new TfcFormatException("corrupt stream: " + count + " coded strings for a model with "
                    + groups + " parts");
        }
        int streams = count / groups;
        if ((streams & (streams - 1)) != 0 || streams > MAX_STREAMS) {
            throw new TfcFormatException("corrupt stream: " + streams + " streams per part");
        }
        int lh = latentSize(c.height());
        int lw = latentSize(c.width());
        int zc = config.hyperChannels;
        int width = config.sliceChannels();
        if (zc % streams != 0 || width % streams != 0) {
            throw new TfcFormatException("corrupt stream: " + streams + " streams do not divide the channels");
        }
        int zh = lh / HYPER_STRIDE;
        int zw = lw / HYPER_STRIDE;

        // z: channel-major values, `streams` equal runs.
        int zPlane = zh * zw;
        int[] zValues = new int[zc * zPlane];
        int perStream = zValues.length / streams;
        for (int s = 0; s < streams; s++) {
            RangeDecoder d = new RangeDecoder(c.string(s));
            for (int k = s * perStream; k < (s + 1) * perStream; k++) {
                zValues[k] = d.decode(zTable, k / zPlane);
            }
            finish(d, s);
        }
        IntTensor zInt = new IntTensor(zh, zw, zc);
        for (int ch = 0; ch < zc; ch++) {
            for (int p = 0; p < zPlane; p++) {
                // Decoded values are below 2^30 + the row length: no overflow.
                zInt.data[p * zc + ch] = zValues[ch * zPlane + p] - zOffsets[ch];
            }
        }
        IntTensor[] feat = features(zInt);
        checkFeatures(feat[1], lh, lw);
        List<IntTensor> decoded = new ArrayList<>();
        int plane = lh * lw;
        int[] index = new int[width * plane];
        int[] values = new int[width * plane];
        int perSliceStream = index.length / streams;
        for (int i = 0; i < config.numSlices; i++) {
            IntTensor[] params = sliceParameters(i, feat[0], feat[1], decoded);
            IntTensor mean = params[0];
            IntTensor logScale = params[1];
            // Channel-major order of the coded elements.
            for (int p = 0; p < plane; p++) {
                for (int ch = 0; ch < width; ch++) {
                    index[ch * plane + p] = ScaleTable.index(thresholds, logScale.data[p * width + ch]);
                }
            }
            for (int s = 0; s < streams; s++) {
                int at = streams * (i + 1) + s;
                RangeDecoder d = new RangeDecoder(c.string(at));
                for (int k = s * perSliceStream; k < (s + 1) * perSliceStream; k++) {
                    values[k] = d.decode(gaussTable, index[k]);
                }
                finish(d, s);  // numbered within the part, as Python's decode_index does
            }
            IntTensor out = new IntTensor(lh, lw, width);
            for (int ch = 0; ch < width; ch++) {
                for (int p = 0; p < plane; p++) {
                    int k = ch * plane + p;
                    long symbol = (long) values[k] - gaussOffsets[index[k]];
                    out.data[p * width + ch] = IntegerNet.saturate(
                            (symbol << PARAM_EXPONENT) + mean.data[p * width + ch]);
                }
            }
            decoded.add(out);
        }
        return new Latents(decoded, feat[0], zInt);
    }

    private static void finish(RangeDecoder d, int lane) throws TfcFormatException {
        if (!d.endCheck()) {
            throw new TfcFormatException("range-coded stream " + lane + " is corrupt or truncated (final "
                    + "state mismatch)");
        }
    }

    private void checkFeatures(IntTensor f, int lh, int lw) throws TfcFormatException {
        if (f.height != lh || f.width != lw) {
            throw new TfcFormatException("int/hyper_synthesis gives " + f.height + "x" + f.width + " for a "
                    + lh + "x" + lw + " latent");
        }
    }

    // -- encoding ------------------------------------------------------------------------------

    /**
     * Codes y (the analysis output times the quality gain, {@code lh x lw x M}, floats) and z
     * (the hyper-analysis output, {@code lh/4 x lw/4 x Z}) as Python's
     * {@code LatentCoder.encode} does: same rounding (z minus its bin centre to nearest even,
     * y - mean half up), same tables, same stream count; the strings go into a container with
     * {@link ContainerWriter#pack}. The latents returned are what {@link #decode} rebuilds.
     *
     * @throws IllegalArgumentException for shapes that do not fit the model, or values the range
     *     coder cannot escape (NaN, or beyond 2^30)
     */
    public Encoded encode(FloatTensor y, FloatTensor z) {
        int lh = y.height;
        int lw = y.width;
        int zc = config.hyperChannels;
        int width = config.sliceChannels();
        if (y.channels != config.latentChannels || z.channels != zc || z.height * HYPER_STRIDE != lh
                || z.width * HYPER_STRIDE != lw) {
            throw new IllegalArgumentException("latents " + y.height + "x" + y.width + "x" + y.channels + " and "
                    + z.height + "x" + z.width + "x" + z.channels + " do not fit " + config);
        }
        int zPlane = z.height * z.width;
        IntTensor zInt = new IntTensor(z.height, z.width, zc);
        int[] zValues = new int[zc * zPlane];
        int[] zIndex = new int[zc * zPlane];
        double[] centres = new double[zc];
        for (int ch = 0; ch < zc; ch++) {
            centres[ch] = zCentres[ch] / (double) (1L << zExponent);  // numpy: centres / 2.0**e
        }
        for (int p = 0; p < zPlane; p++) {
            for (int ch = 0; ch < zc; ch++) {
                double r = Math.rint(z.data[p * zc + ch] - centres[ch]);
                int v = toInt(r, "z");
                zInt.data[p * zc + ch] = v;
                zValues[ch * zPlane + p] = toInt((double) v + zOffsets[ch], "z");
                zIndex[ch * zPlane + p] = ch;
            }
        }
        IntTensor[] feat = features(zInt);
        if (feat[1].height != lh || feat[1].width != lw) {
            throw new IllegalArgumentException("hyper synthesis gives " + feat[1].height + "x" + feat[1].width);
        }
        List<IntTensor> decoded = new ArrayList<>();
        List<int[]> sliceValues = new ArrayList<>();
        List<int[]> sliceIndex = new ArrayList<>();
        int plane = lh * lw;
        for (int i = 0; i < config.numSlices; i++) {
            IntTensor[] params = sliceParameters(i, feat[0], feat[1], decoded);
            IntTensor mean = params[0];
            IntTensor logScale = params[1];
            int[] values = new int[width * plane];
            int[] index = new int[width * plane];
            IntTensor out = new IntTensor(lh, lw, width);
            for (int p = 0; p < plane; p++) {
                for (int ch = 0; ch < width; ch++) {
                    int m = mean.data[p * width + ch];
                    double v = y.data[p * config.latentChannels + i * width + ch];
                    int symbol = toInt(Math.floor(v - m / 256.0 + 0.5), "y");
                    int r = ScaleTable.index(thresholds, logScale.data[p * width + ch]);
                    values[ch * plane + p] = toInt((double) symbol + gaussOffsets[r], "y");
                    index[ch * plane + p] = r;
                    out.data[p * width + ch] = IntegerNet.saturate(((long) symbol << PARAM_EXPONENT) + m);
                }
            }
            sliceValues.add(values);
            sliceIndex.add(index);
            decoded.add(out);
        }
        double total = idealBytes(zRaw, zWidth, zIndex, zValues);
        for (int i = 0; i < config.numSlices; i++) {
            total += idealBytes(gaussRaw, gaussWidth, sliceIndex.get(i), sliceValues.get(i));
        }
        int streams = streamsFor(total / (1 + config.numSlices), Math.min(zc, width));
        List<byte[]> strings = new ArrayList<>();
        encodeStreams(zTable, zIndex, zValues, streams, strings);
        for (int i = 0; i < config.numSlices; i++) {
            encodeStreams(gaussTable, sliceIndex.get(i), sliceValues.get(i), streams, strings);
        }
        return new Encoded(strings, streams, new Latents(decoded, feat[0], zInt));
    }

    private static int toInt(double v, String what) {
        if (Double.isNaN(v) || v > (1 << 30) || v < -(1 << 30)) {
            throw new IllegalArgumentException("a " + what + " value of " + v + " cannot be coded");
        }
        return (int) v;
    }

    private static void encodeStreams(CdfTable table, int[] index, int[] values, int streams, List<byte[]> out) {
        int per = values.length / streams;
        for (int s = 0; s < streams; s++) {
            RangeEncoder e = new RangeEncoder();
            for (int k = s * per; k < (s + 1) * per; k++) {
                e.encode(table, index[k], values[k]);
            }
            out.add(e.finish());
        }
    }

    /** Python's {@code _ideal_bytes}: the expected coded size from the padded lookup rows. */
    static double idealBytes(int[] lookup, int rowWidth, int[] index, int[] values) {
        int width = rowWidth - 1;
        double bits = 0;
        long escapes = 0;
        for (int k = 0; k < values.length; k++) {
            int value = values[k];
            int row = index[k] * rowWidth;
            if (value < 0 || value >= width - 2) {
                escapes++;
            }
            int v = Math.min(Math.max(value, 0), width - 2);
            long freq = (long) lookup[row + 2 + v] - lookup[row + 1 + v];
            bits += Math.abs(lookup[row]) - Math.log(Math.max(freq, 1)) / Math.log(2);
        }
        return (bits + 16.0 * escapes) / 8;
    }

    /** Python's {@code _streams_for}: more streams decode faster, each costs a few bytes. */
    static int streamsFor(double estimatedBytes, int channels) {
        int streams = 1;
        while (streams * 2 <= MAX_STREAMS && channels % (streams * 2) == 0
                && estimatedBytes / (streams * 2) >= BYTES_PER_STREAM) {
            streams *= 2;
        }
        return streams;
    }
}
