package dev.tfcodec.core;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.zip.CRC32;

/**
 * Writes {@code .tfc} files (docs/format.md), byte for byte what {@code tfcodec.container.pack}
 * writes; {@link Container#parse(byte[])} reads them back.
 */
public final class ContainerWriter {
    private ContainerWriter() {
    }

    /**
     * The bytes of a {@code .tfc} file.
     *
     * @throws IllegalArgumentException for fields the format cannot hold (as Python's pack)
     */
    public static byte[] pack(String modelId, byte[] weightsHash, int height, int width, int rate,
                              List<byte[]> strings) {
        byte[] model = modelId.getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < modelId.length(); i++) {
            if (modelId.charAt(i) > 127) {
                throw new IllegalArgumentException("model id must be ASCII");
            }
        }
        if (model.length < 1 || model.length > 255) {
            throw new IllegalArgumentException("model id must be 1..255 ASCII characters");
        }
        if (weightsHash.length != Container.WEIGHTS_HASH_BYTES) {
            throw new IllegalArgumentException("weights hash must be 8 bytes");
        }
        if (height < 1 || height > Container.MAX_SIDE || width < 1 || width > Container.MAX_SIDE) {
            throw new IllegalArgumentException("image size " + height + "x" + width + " outside 1.."
                    + Container.MAX_SIDE);
        }
        if (rate < 0 || rate >= 1 << 16) {
            throw new IllegalArgumentException("rate must fit 16 bits");
        }
        if (strings.size() > Container.MAX_STRINGS) {
            throw new IllegalArgumentException("at most " + Container.MAX_STRINGS + " strings");
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] magic = Container.magic();
        out.write(magic, 0, magic.length);
        out.write(Container.FORMAT_VERSION);
        out.write(model.length);
        out.write(model, 0, model.length);
        out.write(weightsHash, 0, weightsHash.length);
        u32(out, height);
        u32(out, width);
        u16(out, rate);
        u16(out, strings.size());
        for (byte[] s : strings) {
            int n = s.length;
            while (true) {
                int b = n & 0x7F;
                n >>>= 7;
                if (n != 0) {
                    out.write(b | 0x80);
                } else {
                    out.write(b);
                    break;
                }
            }
        }
        for (byte[] s : strings) {
            out.write(s, 0, s.length);
        }
        byte[] body = out.toByteArray();
        CRC32 crc = new CRC32();
        crc.update(body, 0, body.length);
        u32(out, crc.getValue());
        return out.toByteArray();
    }

    private static void u32(ByteArrayOutputStream out, long v) {
        out.write((int) (v >>> 24) & 0xFF);
        out.write((int) (v >>> 16) & 0xFF);
        out.write((int) (v >>> 8) & 0xFF);
        out.write((int) v & 0xFF);
    }

    private static void u16(ByteArrayOutputStream out, int v) {
        out.write((v >>> 8) & 0xFF);
        out.write(v & 0xFF);
    }
}
