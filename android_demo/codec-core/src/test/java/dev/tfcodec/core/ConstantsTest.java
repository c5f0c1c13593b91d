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

    @Test
    public void latentCodingConstantsArePythons() throws Exception {
        Vectors.Record r = latent("latent_coding");
        assertEquals(r.longValue("stride"), LatentCoder.STRIDE);
        assertEquals(r.longValue("latent_stride"), LatentCoder.LATENT_STRIDE);
        assertEquals(r.longValue("hyper_stride"), LatentCoder.HYPER_STRIDE);
        assertEquals(r.longValue("max_streams"), LatentCoder.MAX_STREAMS);
        assertEquals(r.longValue("bytes_per_stream"), LatentCoder.BYTES_PER_STREAM);
        assertEquals(r.longValue("rate_scale"), LatentCoder.RATE_SCALE);
    }

    @Test
    public void integerNetConstantsArePythons() throws Exception {
        Vectors.Record r = latent("integer_net");
        assertEquals(r.longValue("param_exponent"), LatentCoder.PARAM_EXPONENT);
        assertEquals(r.longValue("activation_bits"), IntegerNet.ACTIVATION_BITS);
        assertEquals(r.longValue("activation_limit"), IntegerNet.ACTIVATION_LIMIT);
    }

    @Test
    public void edgeManifestFormatIsPythons() throws Exception {
        Vectors.Record r = latent("edge_manifest");
        assertEquals(r.text("format"), EdgeManifest.FORMAT);
        assertEquals(r.longValue("version"), EdgeManifest.VERSION);
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
    }

    @Test
    public void containerConstantsArePythons() throws Exception {
        Vectors.Record r = constants(Vectors.load("/vectors/containers.txt"), "container");
        assertArrayEquals(r.bytes("magic"), Container.magic());
        assertEquals(r.longValue("format_version"), Container.FORMAT_VERSION);
        assertEquals(r.longValue("max_strings"), Container.MAX_STRINGS);
        assertEquals(r.longValue("max_side"), Container.MAX_SIDE);
        assertEquals(r.longValue("max_pixels"), Container.MAX_PIXELS);
        assertEquals(r.longValue("weights_hash_bytes"), Container.WEIGHTS_HASH_BYTES);
    }
}
