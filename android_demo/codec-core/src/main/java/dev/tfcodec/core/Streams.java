package dev.tfcodec.core;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;

/** Reading whole streams with a size bound, so a huge or endless input fails instead of filling memory. */
final class Streams {
    private Streams() {
    }

    /**
     * Everything left in {@code in} (not closed).
     *
     * @throws TfcFormatException with the message {@code tooLarge} once more than {@code maxBytes}
     *     bytes have come
     */
    static byte[] readAll(InputStream in, long maxBytes, String tooLarge) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buffer = new byte[1 << 16];
        int n;
        long total = 0;
        while ((n = in.read(buffer)) != -1) {
            total += n;
            if (total > maxBytes) {
                throw new TfcFormatException(tooLarge);
            }
            out.write(buffer, 0, n);
        }
        return out.toByteArray();
    }
}
