package dev.tfcodec.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;
import java.util.zip.CRC32;
import org.junit.Test;

/** Unit tests of {@link Container} on streams built here (the Python-made ones are in vectors). */
public class ContainerTest {
    static final byte[] HASH = {1, 2, 3, 4, (byte) 0xAB, (byte) 0xCD, (byte) 0xEF, 0};

    /** Writes a stream the way tfcodec.container.pack does, without its argument checks. */
    static byte[] pack(int version, String model, byte[] hash, long height, long width, int rate,
                       int count, byte[][] strings) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0x89);
        out.write('T');
        out.write('F');
        out.write('C');
        out.write(version);
        byte[] id = model.getBytes(StandardCharsets.ISO_8859_1);
        out.write(id.length);
        out.write(id, 0, id.length);
        out.write(hash, 0, hash.length);
        u32(out, height);
        u32(out, width);
        out.write(rate >> 8);
        out.write(rate);
        out.write(count >> 8);
        out.write(count);
        for (byte[] s : strings) {
            long n = s.length;
            do {
                int b = (int) (n & 0x7F);
                n >>>= 7;
                out.write(n != 0 ? b | 0x80 : b);
            } while (n != 0);
        }
        for (byte[] s : strings) {
            out.write(s, 0, s.length);
        }
        return withCrc(out.toByteArray());
    }

    static byte[] pack(String model, long height, long width, byte[]... strings) {
        return pack(1, model, HASH, height, width, 750, strings.length, strings);
    }

    static byte[] withCrc(byte[] body) {
        CRC32 crc = new CRC32();
        crc.update(body, 0, body.length);
        byte[] out = Arrays.copyOf(body, body.length + 4);
        long v = crc.getValue();
        for (int i = 0; i < 4; i++) {
            out[body.length + i] = (byte) (v >>> (24 - 8 * i));
        }
        return out;
    }

    /** Replaces the last 4 bytes by the CRC-32 of the others. */
    static byte[] fixCrc(byte[] data) {
        return withCrc(Arrays.copyOf(data, data.length - 4));
    }

    private static void u32(ByteArrayOutputStream out, long v) {
        for (int i = 3; i >= 0; i--) {
            out.write((int) (v >>> (8 * i)));
        }
    }

    private static void assertRefused(byte[] data, String message) {
        assertRefused(data, Container.MAX_PIXELS, message);
    }

    private static void assertRefused(byte[] data, long maxPixels, String message) {
        try {
            Container.parse(data, maxPixels);
            fail("expected TfcFormatException: " + message);
        } catch (TfcFormatException expected) {
            assertEquals(message, expected.getMessage());
        }
    }

    @Test
    public void parsesWhatItIsGiven() throws Exception {
        byte[][] strings = {{1, 2, 3}, {}, new byte[300]};
        strings[2][299] = 9;
        byte[] data = pack(1, "cw2020-small", HASH, 480, 640, 1234, 3, strings);
        Container c = Container.parse(data);
        assertEquals("cw2020-small", c.modelId());
        assertArrayEquals(HASH, c.weightsHash());
        assertEquals("01020304abcdef00", c.weightsHashHex());
        assertEquals(480, c.height());
        assertEquals(640, c.width());
        assertEquals(1234, c.rate());
        assertEquals(3, c.stringCount());
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(strings[i], c.string(i));
            assertEquals(strings[i].length, c.stringLength(i));
        }
        c.requireModel("cw2020-small", HASH.clone());
    }

    @Test
    public void readsFromAStreamWithALimit() throws Exception {
        byte[] data = pack("cw2020-small", 10, 20, new byte[5000]);
        Container c = Container.read(new ByteArrayInputStream(data), data.length);
        assertEquals(5000, c.stringLength(0));
        try {
            Container.read(new ByteArrayInputStream(data), data.length - 1);
            fail();
        } catch (TfcFormatException expected) {
            assertTrue(expected.getMessage().contains("longer than"));
        }
        assertRefused(new byte[0], "stream is empty (zero bytes)");
        try {
            Container.read(new ByteArrayInputStream(new byte[0]), 100);
            fail();
        } catch (TfcFormatException expected) {
            assertEquals("stream is empty (zero bytes)", expected.getMessage());
        }
    }

    @Test
    public void limitsAreInclusive() throws Exception {
        Container c = Container.parse(pack("m", 65536, 4096));
        assertEquals(65536, c.height());
        assertEquals(4096, c.width());
        assertEquals(0, c.stringCount());
        byte[][] many = new byte[Container.MAX_STRINGS][0];
        assertEquals(4096, Container.parse(pack(1, "m", HASH, 1, 1, 65535, 4096, many))
                .stringCount());
        assertEquals(65535, Container.parse(pack(1, "m", HASH, 1, 1, 65535, 4096, many)).rate());
    }

    @Test
    public void refusesEmptyAndForeignInput() {
        assertRefused(new byte[0], "stream is empty (zero bytes)");
        assertRefused("GIF89a".getBytes(StandardCharsets.US_ASCII),
                "not a tfcodec stream (wrong magic bytes)");
        assertRefused(new byte[] {(byte) 0x89, 'P', 'N', 'G'},
                "not a tfcodec stream (wrong magic bytes)");
        assertRefused(new byte[] {'T'}, "not a tfcodec stream (wrong magic bytes)");
        assertRefused(new byte[] {(byte) 0x89, 'T'}, "stream is truncated (ends inside the magic)");
        assertRefused(Container.magic(), "stream is truncated (ends inside the version)");
    }

    @Test
    public void refusesOtherVersionsBeforeTheCrc() {
        byte[] data = pack(2, "m", HASH, 1, 1, 0, 0, new byte[0][]);
        data[10] ^= 1;  // the CRC no longer matches, but the version is checked first
        assertRefused(data, "stream format version 2 is not supported "
                + "(this tfcodec reads version 1)");
        assertRefused(new byte[] {(byte) 0x89, 'T', 'F', 'C', 0}, "stream format version 0 is "
                + "not supported (this tfcodec reads version 1)");
        assertRefused(new byte[] {(byte) 0x89, 'T', 'F', 'C', 1, 0, 0},
                "stream is truncated (ends inside the header)");
    }

    @Test
    public void refusesCorruptionAndTruncation() {
        byte[] good = pack("cw2020-small", 64, 64, new byte[] {5, 6, 7, 8}, new byte[] {9});
        for (int bit = 0; bit < good.length * 8; bit++) {
            byte[] flipped = good.clone();
            flipped[bit / 8] ^= (byte) (1 << (bit % 8));
            if (bit / 8 < 5) {
                continue;  // magic and version are checked before the CRC
            }
            assertRefused(flipped, "stream is corrupt or truncated (CRC-32 mismatch)");
        }
        for (int n = 8; n < good.length; n++) {
            assertRefused(Arrays.copyOf(good, n), "stream is corrupt or truncated (CRC-32 "
                    + "mismatch)");
        }
    }

    @Test
    public void refusesAbsurdDimensions() {
        String tail = " pixels, outside what tfcodec decodes (at most 268435456 pixels)";
        assertRefused(pack("m", 0, 5), "header claims an image of 0x5" + tail);
        assertRefused(pack("m", 5, 0), "header claims an image of 5x0" + tail);
        assertRefused(pack("m", 65537, 5), "header claims an image of 65537x5" + tail);
        assertRefused(pack("m", 4294967295L, 4294967295L),
                "header claims an image of 4294967295x4294967295" + tail);
        assertRefused(pack("m", 65536, 65536), "header claims an image of 65536x65536" + tail);
        assertRefused(pack("m", 16385, 16384), "header claims an image of 16385x16384" + tail);
        assertRefused(pack("m", 100, 100), 9999, "header claims an image of 100x100 pixels, "
                + "outside what tfcodec decodes (at most 9999 pixels)");
    }

    @Test
    public void refusesLyingCountsAndLengths() {
        assertRefused(pack(1, "m", HASH, 1, 1, 0, 4097, new byte[0][]),
                "corrupt stream: header claims 4097 coded strings");
        assertRefused(pack(1, "m", HASH, 1, 1, 0, 65535, new byte[0][]),
                "corrupt stream: header claims 65535 coded strings");
        // Two strings announced, one present: the second length eats the CRC's bytes, and
        // the sum cannot match.
        assertRefused(pack(1, "m", HASH, 1, 1, 0, 2, new byte[][] {{1, 2}}),
                "stream is corrupt or truncated (string lengths do not match the file size)");
        // Six announced, none present: the reader runs off the end inside the lengths.
        byte[] noLengths = pack(1, "m", HASH, 1, 1, 0, 6, new byte[0][]);
        assertRefused(noLengths, "stream is truncated (ends inside the string lengths)");
        // A length that claims more bytes than there are.
        byte[] data = pack("m", 1, 1, new byte[] {1, 2, 3});
        int lengthAt = data.length - 4 - 3 - 1;
        data[lengthAt] = 4;
        assertRefused(fixCrc(data), "stream is corrupt or truncated (string lengths do not "
                + "match the file size)");
        // A varint that never ends.
        byte[] head = pack(1, "m", HASH, 1, 1, 0, 1, new byte[][] {{}});
        byte[] body = Arrays.copyOf(head, head.length - 5 + 7 + 4);
        Arrays.fill(body, head.length - 5, head.length + 2, (byte) 0x80);
        assertRefused(fixCrc(body), "corrupt stream: string lengths is not a valid length");
        // Six varint bytes are accepted as a (huge) length, seven are not.
        byte[] six = Arrays.copyOf(head, head.length - 5 + 6 + 4);
        Arrays.fill(six, head.length - 5, head.length, (byte) 0x80);
        six[head.length] = 0x01;
        assertRefused(fixCrc(six), "stream is corrupt or truncated (string lengths do not match "
                + "the file size)");
    }

    @Test
    public void refusesNonAsciiModelIds() throws Exception {
        byte[] data = pack("cw\u00e92020", 1, 1);
        assertRefused(data, "corrupt stream: model id is not ASCII");
        // An empty model id is not refused by the reader (as in Python); requireModel catches it.
        Container empty = Container.parse(pack("", 1, 1));
        assertEquals("", empty.modelId());
    }

    @Test
    public void requireModelNamesBoth() throws Exception {
        Container c = Container.parse(pack("cw2020-small", 8, 8));
        byte[] other = HASH.clone();
        other[7] = 1;
        for (String model : new String[] {"cw2020-small", "bmshj2018"}) {
            try {
                c.requireModel(model, model.equals("bmshj2018") ? HASH : other);
                fail();
            } catch (TfcFormatException expected) {
                String m = expected.getMessage();
                assertTrue(m, m.contains("cw2020-small") && m.contains(model));
                assertTrue(m, m.contains("01020304abcdef00"));
            }
        }
    }

    /** Mutated streams decode or throw TfcFormatException, never anything else. */
    @Test
    public void mutantsNeverThrowAnythingElse() {
        Random rng = new Random(4);
        byte[] good = pack("cw2020-small", 300, 200, new byte[] {1, 2, 3}, new byte[70],
                new byte[0]);
        for (int trial = 0; trial < 20000; trial++) {
            byte[] data = good.clone();
            int edits = 1 + rng.nextInt(4);
            for (int e = 0; e < edits; e++) {
                data[rng.nextInt(data.length)] = (byte) rng.nextInt(256);
            }
            if (rng.nextBoolean()) {
                data = Arrays.copyOf(data, rng.nextInt(data.length + 8));
            }
            if (rng.nextInt(3) > 0 && data.length >= 4) {
                data = fixCrc(data);
            }
            try {
                Container.parse(data, 1 << 20);
            } catch (TfcFormatException expected) {
                assertTrue(expected.getMessage().length() > 0);
            }
        }
    }
}
