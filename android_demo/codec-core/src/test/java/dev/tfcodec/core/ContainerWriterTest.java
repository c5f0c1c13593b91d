package dev.tfcodec.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.junit.Test;

/** Files written in Java are Python's, byte for byte (vectors/containers.txt). */
public class ContainerWriterTest {
    @Test
    public void writesPythonsFiles() throws Exception {
        int checked = 0;
        for (Vectors.Record r : Vectors.load("/vectors/containers.txt")) {
            if (!r.type.equals("container")) {
                continue;
            }
            byte[] expected = r.bytes("bytes");
            Container c = Container.parse(expected);
            List<byte[]> strings = new ArrayList<>();
            for (int i = 0; i < c.stringCount(); i++) {
                strings.add(c.string(i));
            }
            byte[] ours = ContainerWriter.pack(c.modelId(), c.weightsHash(), c.height(), c.width(), c.rate(), strings);
            assertEquals(r.toString(), Container.hex(expected), Container.hex(ours));
            checked++;
        }
        assertTrue(checked >= 5);
    }

    @Test
    public void longStringsUseMultiByteLengths() throws Exception {
        byte[] big = new byte[70000];
        Arrays.fill(big, (byte) 7);
        byte[] file = ContainerWriter.pack("m", new byte[8], 65536, 1, 65535,
                Arrays.asList(new byte[0], big, new byte[] {1}));
        Container c = Container.parse(file);
        assertEquals(65536, c.height());
        assertEquals(65535, c.rate());
        assertArrayEquals(big, c.string(1));
        assertEquals(0, c.stringLength(0));
    }

    @Test
    public void refusesWhatTheFormatCannotHold() {
        List<byte[]> none = Collections.emptyList();
        expectRefused("", new byte[8], 1, 1, 0, none);
        expectRefused("é", new byte[8], 1, 1, 0, none);
        expectRefused("m", new byte[7], 1, 1, 0, none);
        expectRefused("m", new byte[8], 0, 1, 0, none);
        expectRefused("m", new byte[8], 1, 65537, 0, none);
        expectRefused("m", new byte[8], 1, 1, 65536, none);
        expectRefused("m", new byte[8], 1, 1, 0, Collections.nCopies(4097, new byte[0]));
    }

    private static void expectRefused(String model, byte[] hash, int h, int w, int rate, List<byte[]> strings) {
        try {
            ContainerWriter.pack(model, hash, h, w, rate, strings);
            fail("packed " + model + " " + h + "x" + w + " rate " + rate);
        } catch (IllegalArgumentException expected) {
            // as Python's pack
        }
    }
}
