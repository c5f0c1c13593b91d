package dev.tfcodec.core;

import java.util.ArrayList;
import java.util.List;

/**
 * A checked CDF lookup table in the layout of tensorflow-compression's range coder ops
 * ({@code create_range_encoder}/{@code create_range_decoder}).
 *
 * <p>Each row is {@code [precision, 0, c1, c2, ..., 2^|precision|]}, optionally followed by
 * padding entries equal to {@code 2^|precision|}. The row describes a distribution over the
 * symbols {@code 0 .. n-1}, where {@code n} is the number of CDF entries after {@code 0} up to
 * and including the <em>first</em> entry equal to {@code 2^|precision|}; symbol {@code k} has
 * the interval {@code [c_k, c_(k+1))} (equal neighbours mean a symbol of zero probability, which
 * can never be decoded). {@code |precision|} is 1..16. A negative precision switches on overflow
 * coding for that row: its last symbol {@code n-1} is the escape, and values outside
 * {@code 0 .. n-2} are coded as the escape followed by an Elias-gamma code and a sign.
 *
 * <p>The checks and their order follow the C++ ({@code ScanCDF}, {@code IndexCDFVector},
 * {@code IndexCDFMatrix}): a row must hold at least three values, its precision must be in
 * 1..16 in absolute value, it must start with 0, never decrease and reach {@code 2^|precision|};
 * in a matrix, everything after that in the row must be padding. A table that breaks one of them
 * is refused with a {@link TfcFormatException} naming the row.
 *
 * <p>Instances are immutable and can be shared between threads and decoders.
 */
public final class CdfTable {
    private final int[] precisions;
    private final int[][] cdfs;

    private CdfTable(List<int[]> parsedCdfs, List<Integer> parsedPrecisions) {
        int n = parsedCdfs.size();
        this.cdfs = new int[n][];
        this.precisions = new int[n];
        for (int i = 0; i < n; i++) {
            cdfs[i] = parsedCdfs.get(i);
            precisions[i] = parsedPrecisions.get(i);
        }
    }

    /**
     * A table given as a matrix: one CDF per row, each row padded with {@code 2^|precision|} up
     * to the row's length (TFC's rank-2 {@code lookup}). Rows may differ in length.
     */
    public static CdfTable fromRows(int[][] rows) throws TfcFormatException {
        List<int[]> parsed = new ArrayList<>(rows.length);
        List<Integer> precisions = new ArrayList<>(rows.length);
        boolean allEmpty = true;
        for (int[] row : rows) {
            allEmpty &= row.length == 0;
        }
        if (allEmpty) {
            // An [n, 0] matrix holds no CDF at all, as in TFC (every index is then out of range).
            return new CdfTable(parsed, precisions);
        }
        for (int r = 0; r < rows.length; r++) {
            int[] row = rows[r];
            int next = scan(row, 0, row.length, r, parsed, precisions);
            if (next != row.length) {
                throw bad(r, "CDF must end with 1 << precision (found entries after the end "
                        + "that are not padding)");
            }
        }
        return new CdfTable(parsed, precisions);
    }

    /**
     * A table given as one flat vector of concatenated CDFs (TFC's rank-1 {@code lookup}): each
     * CDF ends at its first {@code 2^|precision|}, and any run of further such values after it is
     * padding that is skipped.
     */
    public static CdfTable fromFlat(int[] flat) throws TfcFormatException {
        List<int[]> parsed = new ArrayList<>();
        List<Integer> precisions = new ArrayList<>();
        int pos = 0;
        while (pos != flat.length) {
            pos = scan(flat, pos, flat.length, parsed.size(), parsed, precisions);
        }
        return new CdfTable(parsed, precisions);
    }

    /**
     * Scans one CDF starting at {@code start}; appends it and returns the position after it and
     * its padding.
     */
    private static int scan(int[] t, int start, int end, int rowNumber, List<int[]> out,
                            List<Integer> precisions) throws TfcFormatException {
        if (end - start < 3) {
            throw bad(rowNumber, "CDF ended prematurely (a CDF needs at least precision, 0 and "
                    + "1 << precision)");
        }
        int precision = t[start];
        // Math.abs(Integer.MIN_VALUE) is negative, so it fails the range check as it should.
        int magnitude = Math.abs(precision);
        if (magnitude < 1 || magnitude > 16) {
            throw bad(rowNumber, "precision=" + precision + " not in range [1, 17) in absolute "
                    + "value");
        }
        int last = 1 << magnitude;
        int p = start + 1;
        if (t[p] != 0) {
            throw bad(rowNumber, "CDF must start with 0 (found " + t[p] + ")");
        }
        do {
            p++;
            if (p == end) {
                throw bad(rowNumber, "CDF must end with 1 << precision = " + last);
            }
            if (t[p] < t[p - 1]) {
                throw bad(rowNumber, "CDF must be monotonically increasing");
            }
        } while (t[p] != last);
        int[] cdf = new int[p - start];
        System.arraycopy(t, start + 1, cdf, 0, cdf.length);
        out.add(cdf);
        precisions.add(precision);
        p++;
        while (p != end && t[p] == last) {
            p++;
        }
        return p;
    }

    private static TfcFormatException bad(int row, String what) {
        return new TfcFormatException("bad CDF lookup table (row " + row + "): " + what);
    }

    /** Number of CDFs (rows) in the table. */
    public int size() {
        return cdfs.length;
    }

    /** The row's precision as given: negative when the row uses overflow coding. */
    public int precision(int row) {
        return precisions[row];
    }

    /** Whether the row uses overflow (escape) coding, i.e. its precision is negative. */
    public boolean isOverflow(int row) {
        return precisions[row] < 0;
    }

    /** Number of symbols of the row (for an overflow row, including the escape symbol). */
    public int symbolCount(int row) {
        return cdfs[row].length - 1;
    }

    /** A copy of the row's CDF, from 0 to {@code 2^|precision|} inclusive, without padding. */
    public int[] cdf(int row) {
        return cdfs[row].clone();
    }

    // Shared with RangeDecoder without copying; never modified.
    int[] cdfUnsafe(int row) {
        return cdfs[row];
    }
}
