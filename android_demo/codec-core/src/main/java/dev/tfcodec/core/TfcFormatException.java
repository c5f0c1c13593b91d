package dev.tfcodec.core;

import java.io.IOException;

/**
 * The one exception the codec core throws for input it cannot use: a {@code .tfc} file that
 * is empty, foreign, truncated, corrupt or absurd, a range-coded string that fails to decode or
 * fails the decoder's final check, or a CDF lookup table that is not well formed.
 *
 * <p>It is a checked exception and extends {@link IOException}, so code that reads a stream from
 * a file or the network already has to handle it; catch it before {@code IOException} to tell a
 * bad stream from a failing read. The message is written for a person and can be shown as is.
 * It is the Java counterpart of Python's {@code tfcodec.FormatError}; container messages are the
 * same text as the Python reference's.
 *
 * <p>Programming errors (null arguments, array offsets outside the array given) are reported
 * with the usual unchecked exceptions instead.
 */
public class TfcFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    public TfcFormatException(String message) {
        super(message);
    }
}
