package dev.tfcodec.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.FileInputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.Assume;
import org.junit.Test;

/**
 * The range decoder on the codec's own calls: the real-workload figure next to the Python
 * coders' ({@code benchmarks/bench_rangecoder.py --java} records the {@code decode_index} calls
 * that {@code tfcodec decompress} makes for Kodak, writes them to a file and runs this class on
 * it with {@code TFCODEC_RC_WORKLOAD} set).
 *
 * <p>Not a timed test: it decodes every recorded stream, checks the values against the ones the
 * Python decoder produced (in a first pass, which also warms the JIT up), and prints the
 * throughput of the best of three more passes. Without the environment variable there is no workload and
 * the test is skipped; the decoder's correctness is {@link RangeDecoderTest}'s and
 * {@link RangeCoderVectorsTest}'s.
 *
 * <p>File format (big-endian): "TFRW", version 1, the number of tables; each table as rows,
 * columns and its ints (TFC's padded lookup rows); the number of calls; each call as its table,
 * streams, symbols per stream, the row indices and the expected values (streams x symbols ints
 * each), then every stream's length and bytes.
 */
public class RangeDecoderWorkloadTest {
    private static final class Call {
        int table;
        int lanes;
        int per;
        int[] index;
        int[] expected;
        byte[][] strings;
    }

    @Test
    public void decodesTheRecordedCallsAndPrintsThroughput() throws IOException, TfcFormatException {
        String path = System.getenv("TFCODEC_RC_WORKLOAD");
        Assume.assumeTrue("no workload: benchmarks/bench_rangecoder.py --java sets TFCODEC_RC_WORKLOAD",
                path != null);
        List<CdfTable> tables = new ArrayList<>();
        List<Call> calls = new ArrayList<>();
        long symbols = 0;
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(new FileInputStream(path)))) {
            byte[] magic = new byte[4];
            in.readFully(magic);
            assertEquals("TFRW", new String(magic, "US-ASCII"));
            assertEquals(1, in.readInt());
            int numTables = in.readInt();
            for (int t = 0; t < numTables; t++) {
                int[][] rows = new int[in.readInt()][in.readInt()];
                for (int[] row : rows) {
                    for (int k = 0; k < row.length; k++) {
                        row[k] = in.readInt();
                    }
                }
                tables.add(CdfTable.fromRows(rows));
            }
            int numCalls = in.readInt();
            for (int c = 0; c < numCalls; c++) {
                Call call = new Call();
                call.table = in.readInt();
                call.lanes = in.readInt();
                call.per = in.readInt();
                call.index = readInts(in, call.lanes * call.per);
                call.expected = readInts(in, call.lanes * call.per);
                call.strings = new byte[call.lanes][];
                for (int lane = 0; lane < call.lanes; lane++) {
                    call.strings[lane] = new byte[in.readInt()];
                    in.readFully(call.strings[lane]);
                }
                calls.add(call);
                symbols += call.index.length;
            }
        }
        long best = Long.MAX_VALUE;
        for (int pass = 0; pass < 4; pass++) {  // pass 0 warms the JIT up and checks the values
            long start = System.nanoTime();
            for (Call call : calls) {
                int[] out = decodeCall(tables.get(call.table), call);
                if (pass == 0) {
                    assertArrayEquals(call.expected, out);
                }
            }
            long took = System.nanoTime() - start;
            if (pass > 0) {
                best = Math.min(best, took);
            }
        }
        System.out.printf("Java range decoder, real workload: %d calls, %d symbols: %.2f Msym/s "
                + "(best of 3 passes, %.1f ms in all)%n", calls.size(), symbols,
                symbols / (best / 1e3), best / 1e6);
    }

    private static int[] decodeCall(CdfTable table, Call call) throws TfcFormatException {
        int[] out = new int[call.index.length];
        for (int lane = 0; lane < call.lanes; lane++) {
            RangeDecoder decoder = new RangeDecoder(call.strings[lane]);
            decoder.decode(table, call.index, out, lane * call.per, call.per);
            decoder.finish();
        }
        return out;
    }

    private static int[] readInts(DataInputStream in, int count) throws IOException {
        int[] out = new int[count];
        for (int i = 0; i < count; i++) {
            out[i] = in.readInt();
        }
        return out;
    }
}
