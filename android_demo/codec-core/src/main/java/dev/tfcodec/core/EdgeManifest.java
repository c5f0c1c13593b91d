package dev.tfcodec.core;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The {@code manifest.json} that {@code python -m tfcodec.export} writes next to the TFLite
 * models and {@code coding.npz}: the model id and weights hash that streams carry, the
 * architecture, and each TFLite model's file, digest and input/output quantisation.
 */
public final class EdgeManifest {
    public static final String FORMAT = "tfcodec-edge";
    public static final int VERSION = 1;

    /** One input or output tensor of a TFLite model. */
    public static final class TensorInfo {
        public final String name;
        public final String dtype;
        private final int[] shape;
        private final int[] shapeSignature;
        /** Quantisation scale, NaN for a float tensor. */
        public final double scale;
        public final int zeroPoint;

        TensorInfo(String name, String dtype, int[] shape, int[] shapeSignature, double scale, int zeroPoint) {
            this.name = name;
            this.dtype = dtype;
            this.shape = shape;
            this.shapeSignature = shapeSignature;
            this.scale = scale;
            this.zeroPoint = zeroPoint;
        }

        public int[] shape() {
            return shape.clone();
        }

        public int[] shapeSignature() {
            return shapeSignature.clone();
        }

        /** True when any dimension of the signature is -1 (resizable input). */
        public boolean dynamic() {
            for (int d : shapeSignature) {
                if (d < 0) {
                    return true;
                }
            }
            return false;
        }

        public boolean quantized() {
            return !Double.isNaN(scale);
        }
    }

    /** One TFLite model of the export (a role: analysis, hyper_analysis, lrp_i, synthesis). */
    public static final class ModelInfo {
        public final String role;
        public final String file;
        public final String sha256;
        public final long bytes;
        public final List<TensorInfo> inputs;
        public final List<TensorInfo> outputs;

        ModelInfo(String role, String file, String sha256, long bytes, List<TensorInfo> inputs,
                  List<TensorInfo> outputs) {
            this.role = role;
            this.file = file;
            this.sha256 = sha256;
            this.bytes = bytes;
            this.inputs = Collections.unmodifiableList(inputs);
            this.outputs = Collections.unmodifiableList(outputs);
        }
    }

    public final String model;
    private final byte[] weightsHash;
    public final HyperpriorConfig config;
    public final String mode;
    /** Static input height and width in pixels, or 0 when the models take any size. */
    public final int inputHeight;
    public final int inputWidth;
    public final Map<String, ModelInfo> models;
    public final String codingFile;
    public final String codingSha256;

    private EdgeManifest(String model, byte[] weightsHash, HyperpriorConfig config, String mode, int inputHeight,
                         int inputWidth, Map<String, ModelInfo> models, String codingFile, String codingSha256) {
        this.model = model;
        this.weightsHash = weightsHash;
        this.config = config;
        this.mode = mode;
        this.inputHeight = inputHeight;
        this.inputWidth = inputWidth;
        this.models = Collections.unmodifiableMap(models);
        this.codingFile = codingFile;
        this.codingSha256 = codingSha256;
    }

    /** The 8-byte weights fingerprint streams carry (a copy). */
    public byte[] weightsHash() {
        return weightsHash.clone();
    }

    public String weightsHashHex() {
        return Container.hex(weightsHash);
    }

    /** The roles a full codec needs, in the exporter's order (see tfcodec.export.graphs.roles). */
    public String[] roles() {
        int lrp = config.channelwise() ? config.numSlices : 0;
        String[] out = new String[3 + lrp];
        out[0] = "analysis";
        out[1] = "hyper_analysis";
        for (int i = 0; i < lrp; i++) {
            out[2 + i] = "lrp_" + i;
        }
        out[2 + lrp] = "synthesis";
        return out;
    }

    public static EdgeManifest parse(String text) throws TfcFormatException {
        Map<String, Object> m = Json.object(Json.parse(text), "manifest.json");
        Object format = m.get("format");
        Object version = m.get("version");
        if (!FORMAT.equals(format) || !(version instanceof Long) || (Long) version != VERSION) {
            throw new TfcFormatException("manifest.json: export format " + format + " v" + version
                    + " is not supported (this app reads " + FORMAT + " v" + VERSION + ")");
        }
        String family = m.containsKey("family") ? Json.string(m.get("family"), "family") : "hyperprior";
        if (!family.equals("hyperprior")) {
            throw new TfcFormatException("manifest.json: family " + family + " is not supported");
        }
        String model = Json.string(m.get("model"), "manifest model");
        String hex = Json.string(m.get("weights_hash"), "manifest weights_hash");
        byte[] hash = parseHex(hex, Container.WEIGHTS_HASH_BYTES, "manifest weights_hash");
        HyperpriorConfig config = HyperpriorConfig.fromJson(Json.object(m.get("config"), "manifest config"));
        String mode = m.containsKey("mode") ? Json.string(m.get("mode"), "manifest mode") : "";
        int height = 0;
        int width = 0;
        Object size = m.get("input_size");
        if (size != null) {
            Map<String, Object> s = Json.object(size, "manifest input_size");
            height = (int) Json.integer(s.get("height"), "input_size.height");
            width = (int) Json.integer(s.get("width"), "input_size.width");
        }
        Map<String, ModelInfo> models = new LinkedHashMap<>();
        Map<String, Object> entries = Json.object(m.get("models"), "manifest models");
        for (Map.Entry<String, Object> e : entries.entrySet()) {
            String where = "manifest models." + e.getKey();
            Map<String, Object> entry = Json.object(e.getValue(), where);
            models.put(e.getKey(), new ModelInfo(
                    e.getKey(),
                    Json.string(entry.get("file"), where + ".file"),
                    entry.get("sha256") == null ? null : Json.string(entry.get("sha256"), where + ".sha256"),
                    entry.get("bytes") == null ? -1 : Json.integer(entry.get("bytes"), where + ".bytes"),
                    tensors(entry.get("inputs"), where + ".inputs"),
                    tensors(entry.get("outputs"), where + ".outputs")));
        }
        Map<String, Object> coding = Json.object(m.get("coding"), "manifest coding");
        String codingFile = Json.string(coding.get("file"), "manifest coding.file");
        String codingSha = coding.get("sha256") == null ? null : Json.string(coding.get("sha256"), "coding.sha256");
        return new EdgeManifest(model, hash, config, mode, height, width, models, codingFile, codingSha);
    }

    private static List<TensorInfo> tensors(Object value, String where) throws TfcFormatException {
        List<Object> items = Json.list(value, where);
        List<TensorInfo> out = new java.util.ArrayList<>();
        for (int i = 0; i < items.size(); i++) {
            String w = where + "[" + i + "]";
            Map<String, Object> t = Json.object(items.get(i), w);
            int[] shape = Json.ints(t.get("shape"), w + ".shape");
            int[] signature = t.containsKey("shape_signature")
                    ? Json.ints(t.get("shape_signature"), w + ".shape_signature") : shape;
            double scale = Double.NaN;
            int zero = 0;
            Object s = t.get("scale");
            if (s instanceof List) {
                s = ((List<?>) s).isEmpty() ? null : ((List<?>) s).get(0);
            }
            if (s != null) {
                scale = Json.number(s, w + ".scale");
                Object z = t.get("zero_point");
                if (z instanceof List) {
                    z = ((List<?>) z).isEmpty() ? null : ((List<?>) z).get(0);
                }
                zero = z == null ? 0 : (int) Json.integer(z, w + ".zero_point");
            }
            out.add(new TensorInfo(t.containsKey("name") ? String.valueOf(t.get("name")) : "",
                    Json.string(t.get("dtype"), w + ".dtype"), shape, signature, scale, zero));
        }
        return out;
    }

    static byte[] parseHex(String hex, int length, String where) throws TfcFormatException {
        if (hex.length() != 2 * length) {
            throw new TfcFormatException(where + ": expected " + 2 * length + " hex digits, got " + hex);
        }
        byte[] out = new byte[length];
        for (int i = 0; i < length; i++) {
            int hi = Character.digit(hex.charAt(2 * i), 16);
            int lo = Character.digit(hex.charAt(2 * i + 1), 16);
            if (hi < 0 || lo < 0) {
                throw new TfcFormatException(where + ": not hex: " + hex);
            }
            out[i] = (byte) (hi << 4 | lo);
        }
        return out;
    }
}
