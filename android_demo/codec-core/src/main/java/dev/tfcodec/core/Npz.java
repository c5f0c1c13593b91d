package dev.tfcodec.core;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipInputStream;

/**
 * Reads numpy {@code .npz} archives ({@code np.savez} / {@code np.savez_compressed}): a zip of
 * {@code .npy} files. This is how {@code python -m tfcodec.export} ships the coding arrays
 * ({@code coding.npz}: CDF tables, integer nets, gain tables), so the app reads them as they are.
 *
 * <p>Plain Java ({@link ZipInputStream}, which also reads the zip64 entries numpy writes); reads
 * from any stream, e.g. an Android asset. Only little-endian (or single-byte), C-order arrays of
 * the dtypes {@link NdArray} supports are accepted; anything else is a
 * {@link TfcFormatException} naming the entry.
 */
public final class Npz {
    private static final byte[] NPY_MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

    private Npz() {
    }

    /**
     * All arrays of the archive, by name without the {@code .npy} suffix, in archive order.
     * {@code maxBytes} bounds the total uncompressed size. Does not close {@code in}.
     */
    public static Map<String, NdArray> read(InputStream in, long maxBytes) throws IOException {
        Map<String, NdArray> out = new LinkedHashMap<>();
        ZipInputStream zip = new ZipInputStream(in);
        long total = 0;
        try {
            ZipEntry entry;
            while ((entry = zip.getNextEntry()) != null) {
                String name = entry.getName();
                if (entry.isDirectory()) {
                    continue;
                }
                byte[] bytes = Streams.readAll(zip, maxBytes - total,
                        ".npz archive is larger than allowed (at " + name + ")");
                total += bytes.length;
                String key = name.endsWith(".npy") ? name.substring(0, name.length() - 4) : name;
                out.put(key, parseNpy(bytes, name));
            }
        } catch (ZipException e) {
            throw new TfcFormatException("not a readable .npz archive (" + e.getMessage() + ")");
        }
        if (out.isEmpty()) {
            throw new TfcFormatException("not a .npz archive (no arrays in it)");
        }
        return out;
    }

    /** {@link #read(InputStream, long)} with a 1 GiB bound. */
    public static Map<String, NdArray> read(InputStream in) throws IOException {
        return read(in, 1L << 30);
    }

    /** Parses one {@code .npy} file (format versions 1 to 3). */
    public static NdArray parseNpy(byte[] bytes, String name) throws TfcFormatException {
        ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (bytes.length < 10) {
            throw bad(name, "too short for a .npy header");
        }
        for (int i = 0; i < NPY_MAGIC.length; i++) {
            if (bytes[i] != NPY_MAGIC[i]) {
                throw bad(name, "not a .npy file (bad magic)");
            }
        }
        int major = bytes[6] & 0xFF;
        int headerLength;
        int headerStart;
        if (major == 1) {
            headerLength = buffer.getShort(8) & 0xFFFF;
            headerStart = 10;
        } else if (major == 2 || major == 3) {
            if (bytes.length < 12) {
                throw bad(name, "too short for a .npy header");
            }
            long length = buffer.getInt(8) & 0xFFFFFFFFL;
            if (length > bytes.length) {
                throw bad(name, "header longer than the file");
            }
            headerLength = (int) length;
            headerStart = 12;
        } else {
            throw bad(name, ".npy format version " + major + " is not supported");
        }
        if (headerStart + headerLength > bytes.length) {
            throw bad(name, "header longer than the file");
        }
        String header = new String(bytes, headerStart, headerLength,
                major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        Matcher descr = DESCR.matcher(header);
        Matcher fortran = FORTRAN.matcher(header);
        Matcher shapeMatch = SHAPE.matcher(header);
        if (!descr.find() || !fortran.find() || !shapeMatch.find()) {
            throw bad(name, "unreadable .npy header " + header.trim());
        }
        if (fortran.group(1).equals("True")) {
            throw bad(name, "Fortran-order arrays are not supported");
        }
        String code = descr.group(1);
        String dtype;
        int itemSize;
        boolean floating = false;
        switch (code) {
            case "|i1":
                dtype = "int8";
                itemSize = 1;
                break;
            case "|u1":
                dtype = "uint8";
                itemSize = 1;
                break;
            case "<i2":
                dtype = "int16";
                itemSize = 2;
                break;
            case "<i4":
                dtype = "int32";
                itemSize = 4;
                break;
            case "<i8":
                dtype = "int64";
                itemSize = 8;
                break;
            case "<f2":
                dtype = "float16";
                itemSize = 2;
                floating = true;
                break;
            case "<f4":
                dtype = "float32";
                itemSize = 4;
                floating = true;
                break;
            case "<f8":
                dtype = "float64";
                itemSize = 8;
                floating = true;
                break;
            default:
                throw bad(name, "dtype " + code + " is not supported");
        }
        String dims = shapeMatch.group(1).trim();
        int[] shape;
        long count = 1;
        if (dims.isEmpty()) {
            shape = new int[0];
        } else {
            String[] parts = dims.split(",");
            int rank = parts.length;
            if (parts[rank - 1].trim().isEmpty()) {
                rank--;  // "(5,)"
            }
            shape = new int[rank];
            for (int i = 0; i < rank; i++) {
                long d;
                try {
                    d = Long.parseLong(parts[i].trim());
                } catch (NumberFormatException e) {
                    throw bad(name, "bad shape (" + dims + ")");
                }
                if (d < 0 || d > Integer.MAX_VALUE) {
                    throw bad(name, "bad shape (" + dims + ")");
                }
                shape[i] = (int) d;
                count *= d;
                if (count > Integer.MAX_VALUE) {
                    throw bad(name, "array too large (" + dims + ")");
                }
            }
        }
        int start = headerStart + headerLength;
        if (count * itemSize != bytes.length - start) {
            throw bad(name, "holds " + (bytes.length - start) + " data bytes, its header says "
                    + count * itemSize);
        }
        ByteBuffer data = ByteBuffer.wrap(bytes, start, bytes.length - start).slice();
        return new NdArray(dtype, itemSize, floating, shape, data);
    }

    private static TfcFormatException bad(String name, String what) {
        return new TfcFormatException("array " + name + ": " + what);
    }
}
