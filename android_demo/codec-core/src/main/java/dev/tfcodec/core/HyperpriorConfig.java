package dev.tfcodec.core;

import java.util.Map;

/**
 * The architecture of a hyperprior-family model, as {@code tfcodec.models.config.HyperpriorConfig}
 * writes it into the export's {@code manifest.json} ({@code "config"}). Only what coding needs.
 *
 * <p>{@link #layout} says where the model's layers come from ({@code "tfcodec"}, or a model
 * imported from CompressAI, {@code "compressai"}, or tensorflow-compression, {@code "tfc"}). It is
 * read and kept, but nothing here depends on it: what an imported layout changes in the coding
 * reaches {@link LatentCoder} through the coding arrays (z's bin centres, linear scale
 * thresholds, LeakyReLU layers of the integer nets), the rest lives in the TFLite models.
 */
public final class HyperpriorConfig {
    /** The layout of models that predate import (manifests without {@code "layout"}). */
    public static final String DEFAULT_LAYOUT = "tfcodec";

    public final String family;
    public final int latentChannels;
    public final int hyperChannels;
    public final boolean predictMeans;
    public final int numSlices;
    private final int[] sliceHidden;
    public final int gainLevels;
    /** {@code "tfcodec"} (the default of older manifests), {@code "compressai"} or {@code "tfc"}. */
    public final String layout;

    public HyperpriorConfig(String family, int latentChannels, int hyperChannels, boolean predictMeans,
                            int numSlices, int[] sliceHidden, int gainLevels) throws TfcFormatException {
        this(family, latentChannels, hyperChannels, predictMeans, numSlices, sliceHidden, gainLevels, DEFAULT_LAYOUT);
    }

    public HyperpriorConfig(String family, int latentChannels, int hyperChannels, boolean predictMeans,
                            int numSlices, int[] sliceHidden, int gainLevels, String layout)
            throws TfcFormatException {
        this.family = family;
        this.latentChannels = latentChannels;
        this.hyperChannels = hyperChannels;
        this.predictMeans = predictMeans;
        this.numSlices = numSlices;
        this.sliceHidden = sliceHidden.clone();
        this.gainLevels = gainLevels;
        this.layout = layout;
        if (latentChannels < 1 || hyperChannels < 1 || numSlices < 1 || latentChannels % numSlices != 0) {
            throw new TfcFormatException("model config: " + latentChannels + " latent channels in "
                    + numSlices + " slices, " + hyperChannels + " hyper channels");
        }
        if (layout == null || layout.isEmpty()) {
            throw new TfcFormatException("model config: no layout");
        }
        if (gainLevels < 2) {
            throw new TfcFormatException("model config: gain_levels " + gainLevels + " < 2");
        }
    }

    /** From the manifest's {@code "config"} object. */
    public static HyperpriorConfig fromJson(Map<String, Object> c) throws TfcFormatException {
        String w = "manifest config";
        return new HyperpriorConfig(
                Json.string(c.get("family"), w + ".family"),
                (int) Json.integer(c.get("latent_channels"), w + ".latent_channels"),
                (int) Json.integer(c.get("hyper_channels"), w + ".hyper_channels"),
                c.containsKey("predict_means") ? Json.bool(c.get("predict_means"), w + ".predict_means") : true,
                c.containsKey("num_slices") ? (int) Json.integer(c.get("num_slices"), w + ".num_slices") : 1,
                c.containsKey("slice_hidden") ? Json.ints(c.get("slice_hidden"), w + ".slice_hidden") : new int[0],
                c.containsKey("gain_levels") ? (int) Json.integer(c.get("gain_levels"), w + ".gain_levels") : 8,
                c.containsKey("layout") ? Json.string(c.get("layout"), w + ".layout") : DEFAULT_LAYOUT);
    }

    /** Minnen &amp; Singh's channel-wise model: slice nets predict each slice from the ones before. */
    public boolean channelwise() {
        return sliceHidden.length > 0;
    }

    /** Channels of one latent slice. */
    public int sliceChannels() {
        return latentChannels / numSlices;
    }

    public int[] sliceHidden() {
        return sliceHidden.clone();
    }

    @Override
    public String toString() {
        return family + " (M=" + latentChannels + ", Z=" + hyperChannels + ", " + numSlices + " slice"
                + (numSlices == 1 ? "" : "s") + (predictMeans ? ", means" : ", scales only")
                + (layout.equals(DEFAULT_LAYOUT) ? "" : ", " + layout + " layout") + ")";
    }
}
