package dev.tfcodec.core;

/**
 * The Gaussian scale table's row for a fixed-point log-scale, as
 * {@code tfcodec.entropy.tables.scale_indices} computes it.
 *
 * <p>The table has {@link #LEVELS} zero-mean discretised Gaussians with log-spaced scales from
 * 0.11 to 256; an element whose predicted log-scale (times 2^8, {@code PARAM_EXPONENT}) is
 * {@code s} is coded with row {@code index(s)}, the number of {@link #thresholds()} strictly below
 * {@code s}: integer comparisons only, so encoder and decoder agree on every machine. The
 * thresholds are {@code floor(log(scale_table()[:-1]) * 256)}; the nearest one is 0.0015 away
 * from an integer before the floor, so no libm rounding can move them, and the JUnit test checks
 * them against the Python reference. A model whose coding arrays have {@code gaussian/thresholds}
 * (an imported CompressAI model: its hyper-synthesis gives scales, not log-scales) picks rows
 * with those instead ({@link #index(int[], int)}). The CDF rows themselves come from the coding
 * arrays ({@code gaussian/lookup}), never from this class.
 */
public final class ScaleTable {
    /** Number of Gaussian rows (scale levels). */
    public static final int LEVELS = 64;

    private static final int[] THRESHOLDS = {
        -566, -534, -503, -471, -440, -408, -377, -345, -314, -282, -251, -219, -188, -156, -125, -93,
        -62, -30, 1, 33, 64, 96, 127, 159, 190, 222, 253, 285, 316, 348, 379, 411,
        443, 474, 506, 537, 569, 600, 632, 663, 695, 726, 758, 789, 821, 852, 884, 915,
        947, 978, 1010, 1041, 1073, 1104, 1136, 1167, 1199, 1230, 1262, 1293, 1325, 1356, 1388,
    };

    private ScaleTable() {
    }

    /** The 63 fixed-point log-scale thresholds (a copy). */
    public static int[] thresholds() {
        return THRESHOLDS.clone();
    }

    /** The table row for a fixed-point log-scale: how many thresholds are strictly below it. */
    public static int index(int logScaleFixed) {
        return index(THRESHOLDS, logScaleFixed);
    }

    /**
     * The row for {@code value} under other (sorted) thresholds: an imported model's coding
     * arrays may carry their own ({@code gaussian/thresholds}, e.g. of linear scales), as
     * {@code tables.scale_indices(v, thresholds)} takes them.
     */
    public static int index(int[] thresholds, int value) {
        int lo = 0;
        int hi = thresholds.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (thresholds[mid] < value) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }
}
