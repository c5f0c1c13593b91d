package dev.tfcodec.core;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Compress and decompress with an export of {@code python -m tfcodec.export}: the Java
 * counterpart of {@code tfcodec.edge.EdgeCodec}. The TFLite models run behind a
 * {@link ModelRunner} (LiteRT on Android); everything that touches the bitstream — container,
 * range coding, integer entropy-parameter nets, tables — is {@link LatentCoder}, bit-exact with
 * Python, so files go both ways between the phone and {@code tfcodec compress/decompress}.
 *
 * <p>Encoder: analysis, times the quality gain, hyper-analysis, then {@link LatentCoder#encode}.
 * Decoder: {@link LatentCoder#decode}, then the latent residual prediction (channel-wise
 * models), times the inverse gain, synthesis. Not thread-safe (one call at a time).
 */
public final class EdgeCodec {
    /** A decoded image and where the time went. */
    public static final class Decoded {
        public final RgbImage image;
        public final Container container;
        public final long entropyNanos;
        public final long networkNanos;

        Decoded(RgbImage image, Container container, long entropyNanos, long networkNanos) {
            this.image = image;
            this.container = container;
            this.entropyNanos = entropyNanos;
            this.networkNanos = networkNanos;
        }
    }

    /** A compressed file and where the time went. */
    public static final class Compressed {
        public final byte[] data;
        public final int rate;
        public final long networkNanos;
        public final long entropyNanos;

        Compressed(byte[] data, int rate, long networkNanos, long entropyNanos) {
            this.data = data;
            this.rate = rate;
            this.networkNanos = networkNanos;
            this.entropyNanos = entropyNanos;
        }
    }

    /** Opens a file of the export folder by name (assets, a directory, a zip...). */
    public interface ExportFiles {
        InputStream open(String name) throws IOException;
    }

    public final EdgeManifest manifest;
    public final LatentCoder latents;
    private final NdArray logGain;
    private final NdArray logInverseGain;
    private final ModelRunner runner;

    public EdgeCodec(EdgeManifest manifest, Map<String, NdArray> coding, ModelRunner runner)
            throws TfcFormatException {
        this.manifest = manifest;
        this.runner = runner;
        Map<String, NdArray> plain = new HashMap<>(coding);
        logGain = plain.remove("gains/log_gain");
        logInverseGain = plain.remove("gains/log_inverse_gain");
        if (logGain == null || logInverseGain == null) {
            throw new TfcFormatException("the coding arrays have no gains/log_gain or gains/log_inverse_gain");
        }
        int m = manifest.config.latentChannels;
        logGain.requireShape("gains/log_gain", -1, m);
        logInverseGain.requireShape("gains/log_inverse_gain", -1, m);
        latents = new LatentCoder(manifest.config, plain, manifest.model, manifest.weightsHash());
    }

    /**
     * Reads {@code manifest.json} and the coding arrays (checking the file's SHA-256 against the
     * manifest) from an export folder.
     */
    public static EdgeCodec load(ExportFiles files, ModelRunner runner) throws IOException {
        EdgeManifest manifest;
        try (InputStream in = files.open("manifest.json")) {
            manifest = EdgeManifest.parse(new String(readAll(in, 1 << 24), StandardCharsets.UTF_8));
        }
        byte[] coding;
        try (InputStream in = files.open(manifest.codingFile)) {
            coding = readAll(in, 1 << 30);
        }
        if (manifest.codingSha256 != null && !manifest.codingSha256.equals(sha256Hex(coding))) {
            throw new TfcFormatException(manifest.codingFile + " does not match its manifest (modified, or from "
                    + "another export)");
        }
        return new EdgeCodec(manifest, Npz.read(new ByteArrayInputStream(coding)), runner);
    }

    /** Everything left in {@code in}; more than {@code maxBytes} bytes is a {@link TfcFormatException}. */
    public static byte[] readAll(InputStream in, int maxBytes) throws IOException {
        return Streams.readAll(in, maxBytes, "file is larger than " + maxBytes + " bytes");
    }

    public static String sha256Hex(byte[] data) {
        try {
            return Container.hex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Quality in [0, 1] to the header's rate field (quality x 1000, rounded). */
    public static int rateOf(double quality) {
        if (!(quality >= 0 && quality <= 1)) {
            throw new IllegalArgumentException("quality must be in [0, 1], got " + quality);
        }
        return (int) Math.round(quality * LatentCoder.RATE_SCALE);
    }

    /**
     * Runs a role on one tensor, in tiles where it exceeds the model's static input size or
     * {@link Tiling#defaultTile} ({@link Tiling}: the stitched output is the whole input's), as
     * the Python runtime's {@code EdgeCodec._run} does.
     */
    FloatTensor run(final String role, FloatTensor x, final FloatTensor.Padding fill) throws IOException {
        final int[] size = runner.staticInputSize(role);
        int tileHeight = size != null ? size[0] : Tiling.defaultTile(role);
        int tileWidth = size != null ? size[1] : Tiling.defaultTile(role);
        try {
            return Tiling.run(part -> runPiece(role, part, size, fill), x, tileHeight, tileWidth,
                    Tiling.of(role, manifest.config));
        } catch (Tiling.TileTooSmallException e) {
            if (size == null) {
                throw e;
            }
            int pixels = role.equals("analysis") ? 1 : LatentCoder.LATENT_STRIDE;
            throw new TfcFormatException("this export's static input (" + size[1] * pixels + "x" + size[0] * pixels
                    + " pixels at its " + role + " model) is too small to tile an image larger than it; export "
                    + "with a larger --height/--width (320 or more), or without them (dynamic shapes) for CPU "
                    + "runtimes");
        }
    }

    /**
     * One model call. A static-shape model ({@code size} not null) gets an input smaller than its
     * size padded at the bottom/right (reflected for the image, zeros for latents; as the Python
     * runtime does, see docs/edge.md) and its output cropped back.
     */
    private FloatTensor runPiece(String role, FloatTensor x, int[] size, FloatTensor.Padding fill)
            throws IOException {
        FloatTensor input = size != null ? x.pad(size[0], size[1], fill) : x;
        FloatTensor out = runner.run(role, input);
        if (out.height % input.height != 0 && input.height % out.height != 0) {
            throw new TfcFormatException(role + " gave a " + out.height + "x" + out.width + " output for a "
                    + input.height + "x" + input.width + " input");
        }
        double scale = out.height / (double) input.height;
        int h = (int) Math.round(x.height * scale);
        int w = (int) Math.round(x.width * scale);
        return h == out.height && w == out.width ? out : out.crop(h, w);
    }

    private static void scaleChannels(FloatTensor t, float[] gain) {
        for (int i = 0; i < t.data.length; i++) {
            t.data[i] *= gain[i % t.channels];
        }
    }

    // -- encoder -------------------------------------------------------------------------------

    /** Compresses an image at a rate (quality x 1000, 0..1000) to the bytes of a .tfc file. */
    public Compressed compress(RgbImage image, int rate) throws IOException {
        if (rate < 0 || rate > LatentCoder.RATE_SCALE) {
            throw new IllegalArgumentException("rate must be in 0..1000, got " + rate);
        }
        long t0 = System.nanoTime();
        int ph = (image.height + LatentCoder.STRIDE - 1) / LatentCoder.STRIDE * LatentCoder.STRIDE;
        int pw = (image.width + LatentCoder.STRIDE - 1) / LatentCoder.STRIDE * LatentCoder.STRIDE;
        FloatTensor y = run("analysis", image.toFloat(ph, pw), FloatTensor.Padding.REFLECT);
        scaleChannels(y, Gains.gainVector(logGain, rate / (double) LatentCoder.RATE_SCALE));
        FloatTensor z = run("hyper_analysis", y, FloatTensor.Padding.CONSTANT);
        long t1 = System.nanoTime();
        LatentCoder.Encoded encoded = latents.encode(y, z);
        byte[] data = ContainerWriter.pack(manifest.model, manifest.weightsHash(), image.height, image.width, rate,
                encoded.strings);
        return new Compressed(data, rate, t1 - t0, System.nanoTime() - t1);
    }

    // -- decoder -------------------------------------------------------------------------------

    /** Decompresses the bytes of a .tfc file. */
    public Decoded decompress(byte[] data) throws IOException {
        long t0 = System.nanoTime();
        Container container = Container.parse(data);
        LatentCoder.Latents decoded = latents.decode(container);
        long t1 = System.nanoTime();
        FloatTensor x = synthesise(decoded, container.rate() / (double) LatentCoder.RATE_SCALE);
        RgbImage image = RgbImage.fromFloat(x, container.width(), container.height());
        return new Decoded(image, container, t1 - t0, System.nanoTime() - t1);
    }

    /** Fixed-point latents to the (padded) image in [0, 1]. */
    public FloatTensor synthesise(LatentCoder.Latents decoded, double quality) throws IOException {
        List<FloatTensor> yHat = new ArrayList<>();
        for (IntTensor s : decoded.slices) {
            yHat.add(s.toFloat(LatentCoder.PARAM_EXPONENT));
        }
        List<FloatTensor> corrected = new ArrayList<>();
        if (manifest.config.channelwise()) {
            FloatTensor meanFloat = decoded.meanFeatures.toFloat(LatentCoder.PARAM_EXPONENT);
            for (int i = 0; i < yHat.size(); i++) {
                // As in Python: the context holds the uncorrected slices 0..i.
                FloatTensor[] context = new FloatTensor[i + 2];
                context[0] = meanFloat;
                for (int k = 0; k <= i; k++) {
                    context[k + 1] = yHat.get(k);
                }
                FloatTensor lrp = run("lrp_" + i, FloatTensor.concat(context), FloatTensor.Padding.CONSTANT);
                FloatTensor s = yHat.get(i);
                if (lrp.height != s.height || lrp.width != s.width || lrp.channels != s.channels) {
                    throw new TfcFormatException("lrp_" + i + " gave " + lrp.height + "x" + lrp.width + "x"
                            + lrp.channels + " for a " + s.height + "x" + s.width + "x" + s.channels + " slice");
                }
                FloatTensor sum = new FloatTensor(s.height, s.width, s.channels);
                for (int k = 0; k < s.data.length; k++) {
                    sum.data[k] = s.data[k] + lrp.data[k];
                }
                corrected.add(sum);
            }
        } else {
            corrected = yHat;
        }
        FloatTensor y = FloatTensor.concat(corrected.toArray(new FloatTensor[0]));
        scaleChannels(y, Gains.gainVector(logInverseGain, quality));
        return run("synthesis", y, FloatTensor.Padding.CONSTANT);
    }
}
