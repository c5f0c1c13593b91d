package dev.tfcodec.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import java.util.List;
import java.util.Map;
import org.junit.Test;

/**
 * The numbers the Java core keeps as constants against the Python modules that define them: the
 * vector tools write them ({@code constants} records) from {@code tfcodec.codecs.latent_coding},
 * {@code tfcodec.entropy.integer_net}, {@code tfcodec.container}, the edge runtime's manifest
 * check and {@code HyperpriorConfig}'s defaults, so a change there fails here instead of drifting.
 */
public class ConstantsTest {
    private static Vectors.Record constants(List<Vectors.Record> records, String name) {
        Vectors.Record r = Vectors.byName(records, "constants").get(name);
        if (r == null) {
            throw new AssertionError("no 'constants " + name + "' record (run the vector tools?)");
        }
        return r;
    }

    private static Vectors.Record latent(String name) throws Exception {
        return constants(LatentVectors.records(), name);
    }

    /** Each key's value in the record equals the Java value after it (compared as text). */
    private static void assertMatches(Vectors.Record r, Object... keysAndValues) {
        for (int i = 0; i < keysAndValues.length; i += 2) {
            String key = (String) keysAndValues[i];
            assertEquals(r + ": " + key, r.text(key).trim(), String.valueOf(keysAndValues[i + 1]));
        }
    }

    @Test
    public void latentCodingConstantsArePythons() throws Exception {
        assertMatches(latent("latent_coding"), "stride", LatentCoder.STRIDE, "latent_stride", LatentCoder.LATENT_STRIDE,
                "hyper_stride", LatentCoder.HYPER_STRIDE, "max_streams", LatentCoder.MAX_STREAMS,
                "bytes_per_stream", LatentCoder.BYTES_PER_STREAM, "rate_scale", LatentCoder.RATE_SCALE);
        assertMatches(latent("integer_net"), "param_exponent", LatentCoder.PARAM_EXPONENT,
                "activation_bits", IntegerNet.ACTIVATION_BITS, "activation_limit", IntegerNet.ACTIVATION_LIMIT,
                "slope_exponent", IntegerNet.SLOPE_EXPONENT);
        assertMatches(latent("edge_manifest"), "format", EdgeManifest.FORMAT, "version", EdgeManifest.VERSION);
    }

    /** A manifest config that names only what has no default gets Python's defaults. */
    @Test
    public void configDefaultsArePythons() throws Exception {
        Vectors.Record r = latent("config_defaults");
        @SuppressWarnings("unchecked")
        Map<String, Object> json = (Map<String, Object>) Json.parse(
                "{\"family\": \"any\", \"latent_channels\": 8, \"hyper_channels\": 4}");
        HyperpriorConfig c = HyperpriorConfig.fromJson(json);
        assertEquals(Boolean.parseBoolean(r.text("predict_means")), c.predictMeans);
        assertEquals(r.longValue("num_slices"), c.numSlices);
        assertEquals(r.longValue("slice_nets"), c.sliceHidden().length);
        assertEquals(r.longValue("gain_levels"), c.gainLevels);
        assertEquals(r.text("layout").trim(), c.layout);
        assertEquals(HyperpriorConfig.DEFAULT_LAYOUT, c.layout);
    }

    @Test
    public void containerConstantsArePythons() throws Exception {
        Vectors.Record r = constants(Vectors.load("/vectors/containers.txt"), "container");
        assertArrayEquals(r.bytes("magic"), Container.magic());
        assertMatches(r, "format_version", Container.FORMAT_VERSION, "max_strings", Container.MAX_STRINGS,
                "max_side", Container.MAX_SIDE, "max_pixels", Container.MAX_PIXELS,
                "weights_hash_bytes", Container.WEIGHTS_HASH_BYTES);
    }
}
