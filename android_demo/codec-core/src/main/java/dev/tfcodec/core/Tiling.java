package dev.tfcodec.core;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * A convolutional transform run over overlapping tiles: {@code tfcodec/tiling.py} in Java, so that
 * an export with a static input size (an Edge TPU export) codes images larger than that size the
 * way the Python edge runtime does, with the same tiles and the same stitched output.
 *
 * <p>Why it is exact: a stack of "same"-padded convolutions and pointwise layers is local, so
 * each output element reads the input only within its receptive field. Tiles overlap by a halo at
 * least that wide, start on the transform's stride grid ({@link Geometry#align}) and end flush
 * with the input's border where they touch it; each tile's output keeps only its core. The
 * tiles are all {@code tile} long unless the input is shorter; the last ones are moved back to end
 * at the input's end rather than padded.
 */
public final class Tiling {
    /**
     * Where no static size fixes it, a tile is at most this many pixels a side (latent
     * transforms: 1/16 of it), Python's {@code tiling.TILE_PIXELS}.
     */
    public static final int TILE_PIXELS = 1024;

    /** How a transform maps its input grid to its output grid ({@code tiling.Geometry}). */
    public static final class Geometry {
        /** Output elements per input element along each axis: {@code scaleNum / scaleDen}. */
        public final int scaleNum;
        public final int scaleDen;
        /** Input elements of context a tile needs beyond its core on a side inside the input. */
        public final int halo;
        /** Tile starts and core boundaries are multiples of this: the total input stride. */
        public final int align;

        public Geometry(int scaleNum, int scaleDen, int halo, int align) {
            if (scaleNum < 1 || scaleDen < 1 || align < 1 || halo < 0) {
                throw new IllegalArgumentException("bad geometry " + scaleNum + "/" + scaleDen + ", halo " + halo
                        + ", align " + align);
            }
            if ((long) align * scaleNum % scaleDen != 0) {
                throw new IllegalArgumentException("align " + align + " does not map to whole outputs at scale "
                        + scaleNum + "/" + scaleDen);
            }
            if (halo % align != 0) {
                throw new IllegalArgumentException("halo " + halo + " is not a multiple of align " + align);
            }
            this.scaleNum = scaleNum;
            this.scaleDen = scaleDen;
            this.halo = halo;
            this.align = align;
        }

        /** {@code n} input elements in output elements (whole for aligned n). */
        int scaled(int n) {
            return (int) ((long) n * scaleNum / scaleDen);
        }
    }

    /** Analysis, four 5x5 stride-2 convolutions. */
    public static final Geometry ANALYSIS = new Geometry(1, 16, 32, 16);
    /** Hyper-analysis, 3x3 then two 5x5 stride-2 convolutions. */
    public static final Geometry HYPER_ANALYSIS = new Geometry(1, 4, 8, 4);
    /** Synthesis, four 5x5 stride-2 transposed convolutions. */
    public static final Geometry SYNTHESIS = new Geometry(16, 1, 2, 1);

    /** A stride-1 stack of 3x3 convolutions with {@code hiddenLayers} hidden layers (the LRP nets). */
    public static Geometry parameterNet(int hiddenLayers) {
        return new Geometry(1, 1, hiddenLayers + 1, 1);
    }

    /** The geometry of one of a hyperprior model's transforms, by its export role. */
    public static Geometry of(String role, HyperpriorConfig config) {
        if (role.startsWith("lrp_")) {
            return parameterNet(config.sliceHidden().length);
        }
        switch (role) {
            case "analysis":
                return ANALYSIS;
            case "hyper_analysis":
                return HYPER_ANALYSIS;
            case "synthesis":
                return SYNTHESIS;
            default:
                throw new IllegalArgumentException("no geometry for role " + role);
        }
    }

    /** {@link #TILE_PIXELS} in a role's input units: pixels for the analysis, latents for the others. */
    public static int defaultTile(String role) {
        return role.equals("analysis") ? TILE_PIXELS : TILE_PIXELS / LatentCoder.LATENT_STRIDE;
    }

    /** A tile too small for the halo its transform needs (Python's {@code TilingError}). */
    public static final class TileTooSmallException extends TfcFormatException {
        private static final long serialVersionUID = 1L;

        TileTooSmallException(String message) {
            super(message);
        }
    }

    /** One transform call on one piece of the input. */
    public interface Piece {
        FloatTensor apply(FloatTensor part) throws IOException;
    }

    private Tiling() {
    }

    /**
     * Tiles along one axis, each {@code {tileStart, tileEnd, coreStart, coreEnd}}: the cores
     * partition {@code [0, length)}; each tile holds its core plus at least {@code halo} elements
     * on every side that is not the input's border.
     */
    public static List<int[]> spans(int length, int tile, Geometry g) throws TileTooSmallException {
        if (length % g.align != 0 || tile % g.align != 0) {
            throw new IllegalArgumentException("length " + length + " and tile " + tile + " must be multiples of "
                    + g.align);
        }
        List<int[]> out = new ArrayList<>();
        if (length <= tile) {
            out.add(new int[] {0, length, 0, length});
            return out;
        }
        int core = tile - 2 * g.halo;
        if (core < g.align) {
            throw new TileTooSmallException("a tile of " + tile + " leaves no core inside a halo of " + g.halo
                    + " on each side");
        }
        int startCore = 0;
        while (startCore < length) {
            int start = Math.min(Math.max(startCore - g.halo, 0), length - tile);
            int endCore = start + tile == length ? length : startCore + core;
            if (start == 0) {  // no halo needed on the input's border
                endCore = Math.min(tile - g.halo, length);
            }
            out.add(new int[] {start, start + tile, startCore, endCore});
            startCore = endCore;
        }
        return out;
    }

    /**
     * {@code fn(x)} computed tile by tile; {@code tileHeight x tileWidth} in input elements. One tile
     * (the input fits) is one plain call.
     */
    public static FloatTensor run(Piece fn, FloatTensor x, int tileHeight, int tileWidth, Geometry g)
            throws IOException {
        List<int[]> rows = spans(x.height, tileHeight, g);
        List<int[]> cols = spans(x.width, tileWidth, g);
        if (rows.size() == 1 && cols.size() == 1) {
            return fn.apply(x);
        }
        FloatTensor out = null;
        for (int[] r : rows) {
            for (int[] c : cols) {
                FloatTensor part = fn.apply(x.window(r[0], c[0], r[1] - r[0], c[1] - c[0]));
                int wantH = g.scaled(r[1] - r[0]);
                int wantW = g.scaled(c[1] - c[0]);
                if (part.height != wantH || part.width != wantW) {
                    throw new TfcFormatException("a " + (r[1] - r[0]) + "x" + (c[1] - c[0]) + " tile gave a "
                            + part.height + "x" + part.width + " output, not " + wantH + "x" + wantW);
                }
                if (out == null) {
                    out = new FloatTensor(g.scaled(x.height), g.scaled(x.width), part.channels);
                }
                out.paste(part.window(g.scaled(r[2] - r[0]), g.scaled(c[2] - c[0]),
                        g.scaled(r[3] - r[2]), g.scaled(c[3] - c[2])), g.scaled(r[2]), g.scaled(c[2]));
            }
        }
        return out;
    }
}
