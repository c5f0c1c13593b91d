package dev.tfcodec.demo;

import android.content.res.AssetFileDescriptor;
import android.content.res.AssetManager;
import dev.tfcodec.core.EdgeCodec;
import dev.tfcodec.core.EdgeManifest;
import dev.tfcodec.core.FloatTensor;
import dev.tfcodec.core.ModelRunner;
import dev.tfcodec.core.Quantization;
import dev.tfcodec.core.TfcFormatException;
import java.io.Closeable;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.tensorflow.lite.DataType;
import org.tensorflow.lite.Interpreter;
import org.tensorflow.lite.Tensor;

/**
 * Runs the export's TFLite models with LiteRT ({@code org.tensorflow.lite.Interpreter}, from
 * {@code com.google.ai.edge.litert:litert} or {@code org.tensorflow:tensorflow-lite}) on the CPU.
 * int8/uint8 inputs and outputs are quantised with the tensors' own scale and zero point, as
 * {@code tfcodec.edge.runtime} does; dynamic-shape models are resized to each input. A model is
 * loaded on first use, so decoding never loads the encoder's models.
 */
final class LiteRtRunner implements ModelRunner, Closeable {
    private final AssetManager assets;
    private final String folder;
    private final EdgeManifest manifest;
    private final int threads;
    private final Map<String, Interpreter> interpreters = new HashMap<>();

    LiteRtRunner(AssetManager assets, String folder, EdgeManifest manifest, int threads) {
        this.assets = assets;
        this.folder = folder;
        this.manifest = manifest;
        this.threads = threads;
    }

    private synchronized Interpreter interpreter(String role) throws IOException {
        Interpreter it = interpreters.get(role);
        if (it == null) {
            EdgeManifest.ModelInfo info = manifest.models.get(role);
            if (info == null) {
                throw new TfcFormatException("the export has no " + role + " model (manifest.json)");
            }
            Interpreter.Options options = new Interpreter.Options();
            options.setNumThreads(threads);
            it = new Interpreter(load(folder + "/" + info.file, info.sha256), options);
            interpreters.put(role, it);
        }
        return it;
    }

    /** The model file as a buffer LiteRT accepts: memory-mapped if stored uncompressed, else read. */
    private ByteBuffer load(String path, String sha256) throws IOException {
        try (AssetFileDescriptor fd = assets.openFd(path);
             FileInputStream in = fd.createInputStream()) {
            ByteBuffer mapped = in.getChannel().map(FileChannel.MapMode.READ_ONLY, fd.getStartOffset(), fd.getDeclaredLength());
            return mapped;
        } catch (IOException compressed) {
            // openFd fails for compressed assets (app/build.gradle keeps .tflite uncompressed).
            byte[] bytes;
            try (InputStream in = assets.open(path)) {
                bytes = EdgeCodec.readAll(in, 1 << 30);
            }
            if (sha256 != null && !sha256.equals(EdgeCodec.sha256Hex(bytes))) {
                throw new TfcFormatException(path + " does not match its manifest (modified, or from another export)");
            }
            ByteBuffer direct = ByteBuffer.allocateDirect(bytes.length).order(ByteOrder.nativeOrder());
            direct.put(bytes);
            direct.rewind();
            return direct;
        }
    }

    @Override
    public int[] staticInputSize(String role) throws IOException {
        int[] signature = interpreter(role).getInputTensor(0).shapeSignature();
        for (int d : signature) {
            if (d < 0) {
                return null;
            }
        }
        return new int[] {signature[1], signature[2]};
    }

    @Override
    public synchronized FloatTensor run(String role, FloatTensor x) throws IOException {
        Interpreter it = interpreter(role);
        int[] shape = {1, x.height, x.width, x.channels};
        Tensor in = it.getInputTensor(0);
        if (!Arrays.equals(in.shape(), shape)) {
            it.resizeInput(0, shape);
            it.allocateTensors();
            in = it.getInputTensor(0);
        }
        ByteBuffer input = ByteBuffer.allocateDirect(in.numBytes()).order(ByteOrder.nativeOrder());
        DataType type = in.dataType();
        if (type == DataType.FLOAT32) {
            input.asFloatBuffer().put(x.data);
        } else if (type == DataType.INT8 || type == DataType.UINT8) {
            Tensor.QuantizationParams q = in.quantizationParams();
            byte[] bytes = new byte[x.data.length];
            if (type == DataType.INT8) {
                Quantization.quantizeInt8(x.data, q.getScale(), q.getZeroPoint(), bytes);
            } else {
                Quantization.quantizeUint8(x.data, q.getScale(), q.getZeroPoint(), bytes);
            }
            input.put(bytes);
        } else {
            throw new TfcFormatException(role + ": input type " + type + " is not supported");
        }
        input.rewind();

        Tensor out = it.getOutputTensor(0);
        ByteBuffer output = ByteBuffer.allocateDirect(out.numBytes()).order(ByteOrder.nativeOrder());
        it.run(input, output);
        output.rewind();
        out = it.getOutputTensor(0);
        int[] o = out.shape();
        FloatTensor y = new FloatTensor(o[1], o[2], o[3]);
        DataType outType = out.dataType();
        if (outType == DataType.FLOAT32) {
            output.asFloatBuffer().get(y.data);
        } else if (outType == DataType.INT8 || outType == DataType.UINT8) {
            Tensor.QuantizationParams q = out.quantizationParams();
            byte[] bytes = new byte[y.data.length];
            output.get(bytes);
            if (outType == DataType.INT8) {
                Quantization.dequantizeInt8(bytes, q.getScale(), q.getZeroPoint(), y.data);
            } else {
                Quantization.dequantizeUint8(bytes, q.getScale(), q.getZeroPoint(), y.data);
            }
        } else {
            throw new TfcFormatException(role + ": output type " + outType + " is not supported");
        }
        return y;
    }

    @Override
    public synchronized void close() {
        for (Interpreter it : interpreters.values()) {
            it.close();
        }
        interpreters.clear();
    }
}
