package dev.tfcodec.demo;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import org.junit.Test;

/** The demo's plain-Java helpers (JVM test: `gradle :app:testDebugUnitTest`, or app/check_sources.sh). */
public class SizingTest {
    @Test
    public void photosAreScaledDownNeverUp() {
        assertArrayEquals(new int[] {1024, 768}, Sizing.fit(4032, 3024, 1024));
        assertArrayEquals(new int[] {768, 1024}, Sizing.fit(3024, 4032, 1024));
        assertArrayEquals(new int[] {300, 200}, Sizing.fit(300, 200, 1024));
        assertArrayEquals(new int[] {384, 512}, Sizing.fit(3024, 4032, 512));
    }

    @Test
    public void sampleSizeKeepsEnoughPixels() {
        assertEquals(1, Sizing.sampleSize(1000, 800, 1024));
        assertEquals(2, Sizing.sampleSize(4032, 3024, 1024));
        assertEquals(4, Sizing.sampleSize(4032, 3024, 1000));
        assertEquals(1, Sizing.sampleSize(4032, 3024, 4032));
    }

    @Test
    public void statsReadWell() {
        assertEquals(0.5, Sizing.bpp(16, 16, 16), 0);
        assertEquals("12 ms", Sizing.millis(12_400_000L));
        assertEquals("1.50 s", Sizing.millis(1_500_000_000L));
        assertEquals("768 x 512, 24,576 bytes, 0.500 bpp\ndecoded in 30 ms (entropy decoding 10 ms, networks 20 ms)",
                Sizing.describe(768, 512, 24_576, 10_000_000L, 20_000_000L, "decoded").replace("\r\n", "\n"));
    }
}
