package dev.tfcodec.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.Test;

/**
 * {@link EdgeCodec} runs a model in tiles as the Python edge runtime does: against
 * {@code vectors/tiling.txt} ({@code tools/make_java_tiling_vectors.py}), where Python's
 * {@code tfcodec.tiling.run_tiled} ran a stand-in model (the JVM has no TFLite) that both sides
 * compute exactly, with the role's stride and a receptive field reaching the halo.
 */
public class EdgeCodecTilingTest {
    private static List<Vectors.Record> records() throws IOException {
        return Vectors.load("/vectors/tiling.txt");
    }

    /** The offsets an output reads around its anchor (Python: {@code offsets}). */
    private static int[] offsets(int down, int reach) {
        TreeSet<Integer> set = new TreeSet<>();
        for (int d : new int[] {-reach, -1, 0, down - 1, down - 1 + reach}) {
            set.add(d);
        }
        int[] out = new int[set.size()];
        int k = 0;
        for (int d : set) {
            out[k++] = d;
        }
        return out;
    }

    /** Python's {@code fake_model}: integer weights on integer inputs, exact in float32. */
    static FloatTensor fakeModel(FloatTensor x, int up, int down, int reach, int outChannels) {
        int[] taps = offsets(down, reach);
        FloatTensor out = new FloatTensor(x.height * up / down, x.width * up / down, outChannels);
        for (int i = 0; i < out.height; i++) {
            for (int j = 0; j < out.width; j++) {
                for (int o = 0; o < outChannels; o++) {
                    long sum = 0;
                    for (int ka = 0; ka < taps.length; ka++) {
                        int y = i * down / up + taps[ka];
                        for (int kb = 0; kb < taps.length; kb++) {
                            int xx = j * down / up + taps[kb];
                            if (y < 0 || y >= x.height || xx < 0 || xx >= x.width) {
                                continue;
                            }
                            for (int c = 0; c < x.channels; c++) {
                                int weight = ((o + 1) * (c + 2) + 3 * ka + 5 * kb + 7 * (i % up) + 11 * (j % up)) % 7 - 3;
                                sum += weight * (long) x.get(y, xx, c);
                            }
                        }
                    }
                    out.data[(i * out.width + j) * outChannels + o] = sum;
                }
            }
        }
        return out;
    }

    /** Runs the stand-in for every role, with one static size (or none) for the case's role. */
    private static final class StandIn implements ModelRunner {
        final Map<String, Vectors.Record> geometry;
        final String role;
        final int[] size;
        final int outChannels;
        int calls;

        StandIn(Map<String, Vectors.Record> geometry, Vectors.Record c) {
            this.geometry = geometry;
            this.role = c.text("role");
            this.size = c.text("static").equals("-") ? null : c.ints("static");
            this.outChannels = (int) c.longValue("out_channels");
        }

        @Override
        public int[] staticInputSize(String r) {
            assertEquals(role, r);
            return size == null ? null : size.clone();
        }

        @Override
        public FloatTensor run(String r, FloatTensor in) throws IOException {
            if (size != null && (in.height != size[0] || in.width != size[1])) {
                throw new IOException(r + " takes " + size[0] + "x" + size[1] + ", got " + in.height + "x" + in.width);
            }
            calls++;
            Vectors.Record g = geometry.get(r);
            int[] scale = g.ints("scale");
            return fakeModel(in, scale[0], scale[1], (int) g.longValue("halo"), outChannels);
        }
    }

    @Test
    public void geometriesArePythons() throws Exception {
        List<Vectors.Record> records = records();
        assertEquals(Vectors.byName(records, "constants").get("tiling").longValue("tile_pixels"), Tiling.TILE_PIXELS);
        HyperpriorConfig config = LatentVectors.manifest("tiny-cw").config;
        Map<String, Vectors.Record> geometry = Vectors.byName(records, "geometry");
        assertEquals(4, geometry.size());
        for (Map.Entry<String, Vectors.Record> e : geometry.entrySet()) {
            Vectors.Record r = e.getValue();
            assertEquals(r.longValue("hidden_layers"), config.sliceHidden().length);
            Tiling.Geometry g = Tiling.of(e.getKey(), config);
            assertArrayEquals(e.getKey(), r.ints("scale"), new int[] {g.scaleNum, g.scaleDen});
            assertEquals(e.getKey(), r.longValue("halo"), g.halo);
            assertEquals(e.getKey(), r.longValue("align"), g.align);
            int tile = Tiling.defaultTile(e.getKey());
            assertArrayEquals(e.getKey(), r.ints("default_tile"), new int[] {tile, tile});
        }
    }

    @Test
    public void tiledRunsArePythons() throws Exception {
        List<Vectors.Record> records = records();
        Map<String, Vectors.Record> geometry = Vectors.byName(records, "geometry");
        int ok = 0;
        int tooSmall = 0;
        for (Vectors.Record c : records) {
            if (!c.type.equals("case")) {
                continue;
            }
            StandIn runner = new StandIn(geometry, c);
            EdgeCodec codec = EdgeCodecTest.codec(runner);
            int[] shape = c.ints("shape");
            int[] input = c.ints("input");
            FloatTensor x = new FloatTensor(shape[0], shape[1], shape[2]);
            for (int i = 0; i < input.length; i++) {
                x.data[i] = input[i];
            }
            FloatTensor.Padding fill = FloatTensor.Padding.valueOf(c.text("padding").toUpperCase(java.util.Locale.ROOT));
            if (c.text("verdict").equals("too_small")) {
                try {
                    codec.run(runner.role, x, fill);
                    fail(c + ": tiled with a tile smaller than twice the halo");
                } catch (TfcFormatException expected) {
                    assertTrue(c + ": " + expected.getMessage(), expected.getMessage().contains("too small to tile"));
                }
                tooSmall++;
                continue;
            }
            FloatTensor y = codec.run(runner.role, x, fill);
            assertEquals(c.toString(), c.longValue("calls"), runner.calls);
            assertArrayEquals(c.toString(), c.ints("output_shape"), new int[] {y.height, y.width, y.channels});
            int[] expected = c.ints("output");
            float[] want = new float[expected.length];
            for (int i = 0; i < want.length; i++) {
                want[i] = expected[i];
            }
            assertArrayEquals(c.toString(), want, y.data, 0);
            ok++;
        }
        assertEquals(8, ok);
        assertEquals(2, tooSmall);
    }

    @Test
    public void spansPartitionTheInput() throws Exception {
        Tiling.Geometry g = Tiling.ANALYSIS;
        List<int[]> spans = Tiling.spans(512, 384, g);
        assertEquals(2, spans.size());
        assertArrayEquals(new int[] {0, 384, 0, 352}, spans.get(0));
        assertArrayEquals(new int[] {128, 512, 352, 512}, spans.get(1));
        assertEquals(1, Tiling.spans(96, 384, g).size());
        try {
            Tiling.spans(100, 384, g);
            fail("a length off the stride grid");
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.getMessage().contains("multiples of 16"));
        }
    }
}
