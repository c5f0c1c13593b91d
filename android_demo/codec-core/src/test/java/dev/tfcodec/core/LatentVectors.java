package dev.tfcodec.core;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The latent-coding vectors written by {@code tools/make_java_latent_vectors.py}
 * ({@code vectors/latent/}): {@code latents.txt} and one export folder (manifest.json +
 * coding.npz, no TFLite models) per tiny test model.
 */
final class LatentVectors {
    static final String DIR = "/vectors/latent/";
    private static List<Vectors.Record> records;
    private static final Map<String, Map<String, NdArray>> CODING = new HashMap<>();
    private static final Map<String, EdgeManifest> MANIFESTS = new HashMap<>();

    private LatentVectors() {
    }

    static synchronized List<Vectors.Record> records() throws IOException {
        if (records == null) {
            records = Vectors.load(DIR + "latents.txt");
        }
        return records;
    }

    static InputStream open(String path) throws IOException {
        InputStream in = LatentVectors.class.getResourceAsStream(DIR + path);
        if (in == null) {
            throw new IOException(DIR + path + " not on the classpath (run tools/make_java_latent_vectors.py?)");
        }
        return in;
    }

    static synchronized Map<String, NdArray> coding(String model) throws IOException {
        Map<String, NdArray> c = CODING.get(model);
        if (c == null) {
            try (InputStream in = open(model + "/coding.npz")) {
                c = Npz.read(in);
            }
            CODING.put(model, c);
        }
        return c;
    }

    static synchronized EdgeManifest manifest(String model) throws IOException {
        EdgeManifest m = MANIFESTS.get(model);
        if (m == null) {
            try (InputStream in = open(model + "/manifest.json")) {
                m = EdgeManifest.parse(new String(EdgeCodec.readAll(in, 1 << 20), StandardCharsets.UTF_8));
            }
            MANIFESTS.put(model, m);
        }
        return m;
    }

    /** The model's LatentCoder (coding arrays without the gain tables, as Python builds it). */
    static LatentCoder coder(String model) throws IOException {
        EdgeManifest m = manifest(model);
        Map<String, NdArray> plain = new HashMap<>(coding(model));
        plain.remove("gains/log_gain");
        plain.remove("gains/log_inverse_gain");
        return new LatentCoder(m.config, plain, m.model, m.weightsHash());
    }

    static double[] doubles(String text) {
        String[] parts = text.trim().split(" +");
        double[] out = new double[parts.length];
        for (int i = 0; i < parts.length; i++) {
            out[i] = Double.parseDouble(parts[i]);
        }
        return out;
    }

    static FloatTensor floatTensor(Vectors.Record r, String shapeKey, String valuesKey) {
        int[] shape = r.ints(shapeKey);
        double[] v = doubles(r.text(valuesKey));
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
            if (f[i] != v[i]) {
                throw new IllegalStateException(r + ": " + v[i] + " is not a float32");
            }
        }
        return new FloatTensor(shape[0], shape[1], shape[2], f);
    }
}
