package dev.tfcodec.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.ByteArrayInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.Test;

/**
 * The whole on-device pipeline with plain-Java stand-ins for the TFLite models: what the app
 * does around LiteRT (padding, gains, the LRP context, cropping, the container), and that a
 * file compressed on the device decodes to the latents its encoder kept.
 */
public class EdgeCodecTest {
    /** Toy models for tiny-cw (M=16, Z=8, 4 slices): simple and deterministic. */
    static final class FakeRunner implements ModelRunner {
        final int[] analysisSize;
        final List<String> calls = new ArrayList<>();
        final List<FloatTensor> lrpInputs = new ArrayList<>();

        FakeRunner(int[] analysisSize) {
            this.analysisSize = analysisSize;
        }

        @Override
        public int[] staticInputSize(String role) {
            if (analysisSize == null) {
                return null;
            }
            return role.equals("analysis") ? analysisSize.clone()
                    : new int[] {analysisSize[0] / 16, analysisSize[1] / 16};
        }

        @Override
        public FloatTensor run(String role, FloatTensor in) throws IOException {
            calls.add(role + " " + in.height + "x" + in.width + "x" + in.channels);
            int[] size = staticInputSize(role);
            if (size != null && (in.height != size[0] || in.width != size[1])) {
                throw new IOException(role + " takes " + size[0] + "x" + size[1]);
            }
            if (role.equals("analysis")) {
                FloatTensor y = new FloatTensor(in.height / 16, in.width / 16, 16);
                for (int i = 0; i < y.height; i++) {
                    for (int j = 0; j < y.width; j++) {
                        for (int c = 0; c < 16; c++) {
                            y.data[(i * y.width + j) * 16 + c] = 40 * (in.get(16 * i, 16 * j, c % 3) - 0.5f) * (1 + c / 8f);
                        }
                    }
                }
                return y;
            }
            if (role.equals("hyper_analysis")) {
                FloatTensor z = new FloatTensor(in.height / 4, in.width / 4, 8);
                for (int i = 0; i < z.height; i++) {
                    for (int j = 0; j < z.width; j++) {
                        for (int c = 0; c < 8; c++) {
                            z.data[(i * z.width + j) * 8 + c] = in.get(4 * i, 4 * j, c) / 3;
                        }
                    }
                }
                return z;
            }
            if (role.startsWith("lrp_")) {
                lrpInputs.add(in);
                FloatTensor out = new FloatTensor(in.height, in.width, 4);
                for (int p = 0; p < in.height * in.width; p++) {
                    for (int c = 0; c < 4; c++) {
                        out.data[p * 4 + c] = 0.01f * in.data[p * in.channels + in.channels - 1];
                    }
                }
                return out;
            }
            if (role.equals("synthesis")) {
                FloatTensor x = new FloatTensor(in.height * 16, in.width * 16, 3);
                for (int i = 0; i < x.height; i++) {
                    for (int j = 0; j < x.width; j++) {
                        for (int c = 0; c < 3; c++) {
                            float v = 0.5f + in.get(i / 16, j / 16, c) / 100;
                            x.data[(i * x.width + j) * 3 + c] = Math.max(0, Math.min(1, v));
                        }
                    }
                }
                return x;
            }
            throw new IOException("no model " + role);
        }
    }

    static EdgeCodec codec(ModelRunner runner) throws Exception {
        return EdgeCodec.load(new EdgeCodec.ExportFiles() {
            @Override
            public InputStream open(String name) throws IOException {
                return LatentVectors.open("tiny-cw/" + name);
            }
        }, runner);
    }

    private static RgbImage photo(int width, int height, long seed) {
        Random random = new Random(seed);
        int[] argb = new int[width * height];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int r = (x * 255 / width + random.nextInt(20)) & 0xFF;
                int g = (y * 255 / height) & 0xFF;
                int b = random.nextInt(256);
                argb[y * width + x] = 0xFF000000 | r << 16 | g << 8 | b;
            }
        }
        return new RgbImage(width, height, argb);
    }

    @Test
    public void compressesAndDecompresses() throws Exception {
        FakeRunner runner = new FakeRunner(null);
        EdgeCodec codec = codec(runner);
        RgbImage image = photo(150, 100, 1);
        EdgeCodec.Compressed c = codec.compress(image, 437);
        Container parsed = Container.parse(c.data);
        assertEquals("tiny-cw", parsed.modelId());
        assertEquals(100, parsed.height());
        assertEquals(150, parsed.width());
        assertEquals(437, parsed.rate());
        assertEquals(LatentVectors.manifest("tiny-cw").weightsHashHex(), parsed.weightsHashHex());
        assertEquals("analysis 128x192x3", runner.calls.get(0));
        assertEquals("hyper_analysis 8x12x16", runner.calls.get(1));

        runner.calls.clear();
        EdgeCodec.Decoded d = codec.decompress(c.data);
        assertEquals(150, d.image.width);
        assertEquals(100, d.image.height);
        assertEquals(runner.calls.toString(), 5, runner.calls.size());
        // The LRP of slice i sees the mean features and the uncorrected slices 0..i.
        for (int i = 0; i < 4; i++) {
            assertEquals("lrp_" + i + " 8x12x" + (16 + 4 * (i + 1)), runner.calls.get(i));
        }
        assertEquals("synthesis 8x12x16", runner.calls.get(4));
        LatentCoder.Latents latents = codec.latents.decode(parsed);
        FloatTensor lastContext = runner.lrpInputs.get(3);
        FloatTensor expected = FloatTensor.concat(latents.meanFeatures.toFloat(8), latents.slices.get(0).toFloat(8),
                latents.slices.get(1).toFloat(8), latents.slices.get(2).toFloat(8), latents.slices.get(3).toFloat(8));
        assertArrayEquals(expected.data, lastContext.data, 0);
        // The toy synthesis inverts the toy analysis roughly: the image is recognisable.
        assertTrue("psnr " + d.image.psnr(image), d.image.psnr(image) > 5);
        assertTrue(d.entropyNanos > 0 && d.networkNanos > 0);
    }

    @Test
    public void theEncoderKeepsWhatTheDecoderRebuilds() throws Exception {
        EdgeCodec codec = codec(new FakeRunner(null));
        for (int rate : new int[] {0, 500, 1000}) {
            RgbImage image = photo(64 + rate % 7, 200, rate);
            int ph = 64 * ((image.height + 63) / 64);
            int pw = 64 * ((image.width + 63) / 64);
            FakeRunner runner = new FakeRunner(null);
            FloatTensor y = runner.run("analysis", image.toFloat(ph, pw));
            float[] gain = Gains.gainVector(LatentVectors.coding("tiny-cw").get("gains/log_gain"), rate / 1000.0);
            for (int i = 0; i < y.data.length; i++) {
                y.data[i] *= gain[i % 16];
            }
            FloatTensor z = runner.run("hyper_analysis", y);
            LatentCoder.Encoded e = codec.latents.encode(y, z);
            byte[] data = codec.compress(image, rate).data;
            Container c = Container.parse(data);
            assertEquals(e.strings.size(), c.stringCount());
            LatentCoder.Latents back = codec.latents.decode(c);
            for (int i = 0; i < 4; i++) {
                assertArrayEquals(e.latents.slices.get(i).data, back.slices.get(i).data);
            }
        }
    }

    @Test
    public void staticShapesArePaddedAndCropped() throws Exception {
        FakeRunner runner = new FakeRunner(new int[] {128, 256});
        EdgeCodec codec = codec(runner);
        RgbImage image = photo(130, 70, 3);
        byte[] data = codec.compress(image, 800).data;
        assertEquals("analysis 128x256x3", runner.calls.get(0));
        assertEquals("hyper_analysis 8x16x16", runner.calls.get(1));
        EdgeCodec.Decoded d = codec.decompress(data);
        assertEquals(130, d.image.width);
        // Same file as with dynamic shapes: padding never reaches the coded latents.
        assertArrayEquals(data, codec(new FakeRunner(null)).compress(image, 800).data);
        try {
            codec.compress(photo(300, 70, 4), 500);
            fail("tiled a 320-pixel-wide image with 256-wide tiles (a 16-latent hyper tile has no core)");
        } catch (TfcFormatException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains("too small to tile"));
        }
    }

    /** An image larger than a static export runs in tiles, to what a dynamic export gives. */
    @Test
    public void largerImagesAreTiled() throws Exception {
        FakeRunner runner = new FakeRunner(new int[] {128, 384});
        RgbImage image = photo(500, 70, 6);
        EdgeCodec codec = codec(runner);
        byte[] data = codec.compress(image, 600).data;
        assertEquals("[analysis 128x384x3, analysis 128x384x3, hyper_analysis 8x24x16, hyper_analysis 8x24x16]",
                runner.calls.toString());
        // The toy models are pointwise, so tiles change nothing.
        EdgeCodec dynamic = codec(new FakeRunner(null));
        assertArrayEquals(data, dynamic.compress(image, 600).data);
        EdgeCodec.Decoded d = codec.decompress(data);
        assertEquals(500, d.image.width);
        assertArrayEquals(dynamic.decompress(data).image.argb, d.image.argb);
    }

    @Test
    public void refusesBadFilesAndExports() throws Exception {
        EdgeCodec codec = codec(new FakeRunner(null));
        byte[] data = codec.compress(photo(64, 64, 5), 500).data;
        data[data.length - 10] ^= 1;
        try {
            codec.decompress(data);
            fail("decoded a corrupt file");
        } catch (TfcFormatException expected) {
            assertTrue(expected.getMessage().contains("CRC"));
        }
        // A coding.npz that is not the manifest's.
        try {
            EdgeCodec.load(new EdgeCodec.ExportFiles() {
                @Override
                public InputStream open(String name) throws IOException {
                    return LatentVectors.open((name.endsWith(".npz") ? "tiny-mean/" : "tiny-cw/") + name);
                }
            }, new FakeRunner(null));
            fail("loaded another export's coding arrays");
        } catch (TfcFormatException expected) {
            assertTrue(expected.getMessage().contains("does not match its manifest"));
        }
        try {
            EdgeCodec.load(new EdgeCodec.ExportFiles() {
                @Override
                public InputStream open(String name) throws IOException {
                    if (name.equals("manifest.json")) {
                        return new ByteArrayInputStream("{\"format\": \"x\"}".getBytes("UTF-8"));
                    }
                    throw new FileNotFoundException(name);
                }
            }, new FakeRunner(null));
            fail("loaded a foreign manifest");
        } catch (TfcFormatException expected) {
            assertTrue(expected.getMessage().contains("not supported"));
        }
    }

    @Test
    public void quantizesAsTheEdgeRuntime() {
        // The values tfcodec.edge.runtime.quantize gives (0.5 / (1/255) is 127.49999 in float).
        float[] x = {-1f, 0f, 0.5f, 0.2509804f, 2f};
        byte[] q = new byte[x.length];
        Quantization.quantizeInt8(x, 1 / 255f, -128, q);
        assertArrayEquals(new byte[] {-128, -128, -1, -64, 127}, q);
        float[] back = new float[x.length];
        Quantization.dequantizeInt8(q, 1 / 255f, -128, back);
        assertEquals(127 / 255f, back[2], 1e-7);
        Quantization.quantizeUint8(new float[] {0.5f, 1.5f, 2.5f}, 1f, 0, q);
        assertEquals(0, q[0]);   // rint: half to even
        assertEquals(2, q[1]);
        assertEquals(2, q[2]);
        Quantization.dequantizeUint8(new byte[] {(byte) 200}, 0.5f, 10, back);
        assertEquals(95f, back[0], 0);
    }

    @Test
    public void padsAsNumpy() {
        FloatTensor t = new FloatTensor(2, 3, 1, new float[] {0, 1, 2, 3, 4, 5});
        // np.pad(t, ((0, 3), (0, 4), (0, 0)), mode=...) for each mode.
        float[][] reflect = {{0, 1, 2, 1, 0, 1, 2}, {3, 4, 5, 4, 3, 4, 5}, {0, 1, 2, 1, 0, 1, 2},
            {3, 4, 5, 4, 3, 4, 5}, {0, 1, 2, 1, 0, 1, 2}};
        float[][] edge = {{0, 1, 2, 2, 2, 2, 2}, {3, 4, 5, 5, 5, 5, 5}, {3, 4, 5, 5, 5, 5, 5},
            {3, 4, 5, 5, 5, 5, 5}, {3, 4, 5, 5, 5, 5, 5}};
        FloatTensor r = t.pad(5, 7, FloatTensor.Padding.REFLECT);
        FloatTensor e = t.pad(5, 7, FloatTensor.Padding.EDGE);
        FloatTensor z = t.pad(5, 7, FloatTensor.Padding.CONSTANT);
        for (int y = 0; y < 5; y++) {
            for (int x = 0; x < 7; x++) {
                assertEquals(reflect[y][x], r.get(y, x, 0), 0);
                assertEquals(edge[y][x], e.get(y, x, 0), 0);
                assertEquals(y < 2 && x < 3 ? reflect[y][x] : 0f, z.get(y, x, 0), 0);
            }
        }
        FloatTensor one = new FloatTensor(1, 1, 1, new float[] {7});
        assertEquals(7f, one.pad(3, 3, FloatTensor.Padding.REFLECT).get(2, 2, 0), 0);  // numpy: 7 too
    }

    @Test
    public void convertsPixelsAsPython() {
        FloatTensor x = new FloatTensor(1, 4, 3, new float[] {0f, 1f, 0.5f, -0.2f, 1.3f, 0.001f, 0.998f, 0.00196f,
            Float.NaN, 0.2f, 0.4f, 0.6f});
        RgbImage img = RgbImage.fromFloat(x, 3, 1);
        assertEquals(0xFF00FF80, img.argb[0]);  // 0.5 * 255 + 0.5 = 128 (floor)
        assertEquals(0xFF00FF00, img.argb[1]);
        assertEquals(0xFFFE0000, img.argb[2]);  // 0.998 -> 254.99 -> 254; 0.00196 -> 0.9998 -> 0; NaN -> 0
        RgbImage one = RgbImage.fromRgb(2, 1, new byte[] {1, 2, 3, (byte) 255, 0, 9});
        FloatTensor t = one.toFloat(2, 3);
        assertEquals(1 / 255f, t.get(0, 0, 0), 0);
        assertEquals(1f, t.get(1, 2, 0), 0);     // edge-padded from (0, 1)
        assertEquals(9 / 255f, t.get(1, 1, 2), 0);
    }
}
