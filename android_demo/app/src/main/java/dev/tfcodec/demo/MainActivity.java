package dev.tfcodec.demo;

import android.app.Activity;
import android.app.AlertDialog;
import android.content.ActivityNotFoundException;
import android.content.Intent;
import android.graphics.Bitmap;
import android.graphics.BitmapFactory;
import android.graphics.Matrix;
import android.media.ExifInterface;
import android.net.Uri;
import android.os.Bundle;
import android.provider.MediaStore;
import android.view.View;
import android.widget.Button;
import android.widget.ImageView;
import android.widget.LinearLayout;
import android.widget.ScrollView;
import android.widget.SeekBar;
import android.widget.TextView;
import dev.tfcodec.core.EdgeCodec;
import dev.tfcodec.core.EdgeManifest;
import dev.tfcodec.core.LatentCoder;
import dev.tfcodec.core.RgbImage;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The tfcodec demo: decodes .tfc files (from the app's assets or the document picker) and
 * compresses photos (gallery or camera) with the exported models in {@code assets/tfcodec/}.
 * Everything that touches the bitstream is the plain-Java codec core ({@code dev.tfcodec.core},
 * bit-exact with Python); the neural transforms run in LiteRT ({@link LiteRtRunner}).
 */
public class MainActivity extends Activity {
    /** Folder of the export in assets (what python -m tfcodec.export writes). */
    static final String MODELS = "tfcodec";
    /** Folder of sample .tfc files in assets. */
    static final String SAMPLES = "samples";
    /** Long side photos are scaled to before compressing (dynamic-shape exports). */
    static final int MAX_SIDE = 1024;
    static final int MAX_FILE_BYTES = 64 << 20;

    private static final int OPEN_TFC = 1;
    private static final int PICK_PHOTO = 2;
    private static final int TAKE_PHOTO = 3;
    private static final int SAVE_TFC = 4;

    private final ExecutorService worker = Executors.newSingleThreadExecutor();
    private final ExecutorService netPool = Executors.newFixedThreadPool(
            Math.max(1, Runtime.getRuntime().availableProcessors()));
    private volatile EdgeCodec codec;
    private volatile LiteRtRunner runner;
    private volatile String loadError;

    private TextView status;
    private TextView qualityLabel;
    private SeekBar quality;
    private ImageView imageView;
    private Button saveButton;
    private volatile byte[] lastFile;

    @Override
    protected void onCreate(Bundle state) {
        super.onCreate(state);
        setContentView(buildLayout());
        setStatus("Loading the models from assets/" + MODELS + "/ ...");
        worker.execute(new Runnable() {
            @Override
            public void run() {
                loadCodec();
            }
        });
    }

    @Override
    protected void onDestroy() {
        worker.shutdownNow();
        netPool.shutdownNow();
        if (runner != null) {
            runner.close();
        }
        super.onDestroy();
    }

    // -- layout (built in code: no generated resources to keep in step) -----------------------

    private View buildLayout() {
        LinearLayout column = new LinearLayout(this);
        column.setOrientation(LinearLayout.VERTICAL);
        int pad = (int) (12 * getResources().getDisplayMetrics().density);
        column.setPadding(pad, pad, pad, pad);

        LinearLayout decodeRow = row(column);
        button(decodeRow, "Open .tfc", new View.OnClickListener() {
            @Override
            public void onClick(View v) {
                openTfc();
            }
        });
        button(decodeRow, "Sample", new View.OnClickListener() {
            @Override
            public void onClick(View v) {
                chooseSample();
            }
        });
        LinearLayout encodeRow = row(column);
        button(encodeRow, "Photo", new View.OnClickListener() {
            @Override
            public void onClick(View v) {
                pickPhoto();
            }
        });
        button(encodeRow, "Camera", new View.OnClickListener() {
            @Override
            public void onClick(View v) {
                takePhoto();
            }
        });
        saveButton = button(encodeRow, "Save .tfc", new View.OnClickListener() {
            @Override
            public void onClick(View v) {
                saveTfc();
            }
        });
        saveButton.setEnabled(false);

        qualityLabel = new TextView(this);
        column.addView(qualityLabel);
        quality = new SeekBar(this);
        quality.setMax(LatentCoder.RATE_SCALE);
        quality.setProgress(500);
        quality.setOnSeekBarChangeListener(new SeekBar.OnSeekBarChangeListener() {
            @Override
            public void onProgressChanged(SeekBar bar, int value, boolean fromUser) {
                showQuality();
            }

            @Override
            public void onStartTrackingTouch(SeekBar bar) {
            }

            @Override
            public void onStopTrackingTouch(SeekBar bar) {
            }
        });
        column.addView(quality);
        showQuality();

        status = new TextView(this);
        status.setTextIsSelectable(true);
        column.addView(status);
        imageView = new ImageView(this);
        imageView.setAdjustViewBounds(true);
        column.addView(imageView, new LinearLayout.LayoutParams(LinearLayout.LayoutParams.MATCH_PARENT,
                LinearLayout.LayoutParams.WRAP_CONTENT));

        ScrollView scroll = new ScrollView(this);
        scroll.addView(column);
        return scroll;
    }

    private LinearLayout row(LinearLayout parent) {
        LinearLayout row = new LinearLayout(this);
        row.setOrientation(LinearLayout.HORIZONTAL);
        parent.addView(row);
        return row;
    }

    private Button button(LinearLayout row, String label, View.OnClickListener listener) {
        Button b = new Button(this);
        b.setText(label);
        b.setOnClickListener(listener);
        row.addView(b, new LinearLayout.LayoutParams(0, LinearLayout.LayoutParams.WRAP_CONTENT, 1));
        return b;
    }

    private void showQuality() {
        qualityLabel.setText(String.format(Locale.US, "Quality for photos: %.3f", quality.getProgress() / 1000.0));
    }

    private void setStatus(final String text) {
        runOnUiThread(new Runnable() {
            @Override
            public void run() {
                status.setText(text);
            }
        });
    }

    private void showImage(final RgbImage image, final String text) {
        final Bitmap bitmap = Bitmap.createBitmap(image.argb, image.width, image.height, Bitmap.Config.ARGB_8888);
        runOnUiThread(new Runnable() {
            @Override
            public void run() {
                imageView.setImageBitmap(bitmap);
                status.setText(text);
            }
        });
    }

    // -- the codec -------------------------------------------------------------------------------

    private void loadCodec() {
        try {
            final String[] names = getAssets().list(MODELS);
            boolean present = false;
            for (String n : names == null ? new String[0] : names) {
                present |= n.equals("manifest.json");
            }
            if (!present) {
                loadError = "No models in assets/" + MODELS + "/.\n\nExport them with\n  python -m tfcodec.export "
                        + "--model default --out EXPORT --int8 --calibration TRAINING_IMAGES\nand copy EXPORT/* into "
                        + "android_demo/app/src/main/assets/" + MODELS + "/ (see android_demo/README.md).";
                setStatus(loadError);
                return;
            }
            EdgeCodec.ExportFiles files = new EdgeCodec.ExportFiles() {
                @Override
                public InputStream open(String name) throws IOException {
                    return getAssets().open(MODELS + "/" + name);
                }
            };
            // The runner needs the manifest, the codec needs the runner: read the manifest first.
            EdgeManifest manifest;
            try (InputStream in = files.open("manifest.json")) {
                manifest = EdgeManifest.parse(new String(EdgeCodec.readAll(in, 1 << 24), "UTF-8"));
            }
            runner = new LiteRtRunner(getAssets(), MODELS, manifest,
                    Math.max(1, Runtime.getRuntime().availableProcessors()));
            EdgeCodec loaded = EdgeCodec.load(files, runner);
            loaded.latents.setExecutor(netPool);
            codec = loaded;
            setStatus(String.format(Locale.US, "Model %s (weights %s), %s export%s.\nOpen a .tfc file or compress a photo.",
                    manifest.model, manifest.weightsHashHex(), manifest.mode,
                    manifest.inputHeight > 0 ? String.format(Locale.US, ", input %dx%d", manifest.inputWidth,
                            manifest.inputHeight) : ""));
        } catch (IOException | RuntimeException e) {
            loadError = "Cannot load the models: " + e.getMessage();
            setStatus(loadError);
        }
    }

    private boolean ready() {
        if (codec == null) {
            setStatus(loadError != null ? loadError : "Still loading the models...");
            return false;
        }
        return true;
    }

    private void decode(final byte[] data, final String source) {
        if (!ready()) {
            return;
        }
        setStatus("Decoding " + source + " ...");
        worker.execute(new Runnable() {
            @Override
            public void run() {
                try {
                    EdgeCodec.Decoded d = codec.decompress(data);
                    showImage(d.image, source + "\n" + Sizing.describe(d.image.width, d.image.height, data.length,
                            d.entropyNanos, d.networkNanos, "decoded") + String.format(Locale.US,
                            "\nquality %.3f, %d coded strings", d.container.rate() / 1000.0, d.container.stringCount()));
                } catch (IOException | RuntimeException e) {
                    setStatus("Cannot decode " + source + ": " + e.getMessage());
                }
            }
        });
    }

    private void compress(final Uri uri, final String source) {
        if (!ready()) {
            return;
        }
        final int rate = quality.getProgress();
        setStatus("Compressing " + source + " at quality " + rate / 1000.0 + " ...");
        worker.execute(new Runnable() {
            @Override
            public void run() {
                try {
                    RgbImage image = loadPhoto(uri);
                    EdgeCodec.Compressed c = codec.compress(image, rate);
                    EdgeCodec.Decoded d = codec.decompress(c.data);
                    lastFile = c.data;
                    runOnUiThread(new Runnable() {
                        @Override
                        public void run() {
                            saveButton.setEnabled(true);
                        }
                    });
                    showImage(d.image, String.format(Locale.US, "%s, compressed at quality %.3f\n%s\nencoded in %s "
                            + "(networks %s, entropy coding %s)\nPSNR %.2f dB against the input",
                            source, rate / 1000.0,
                            Sizing.describe(image.width, image.height, c.data.length, d.entropyNanos, d.networkNanos,
                                    "decoded"),
                            Sizing.millis(c.networkNanos + c.entropyNanos), Sizing.millis(c.networkNanos),
                            Sizing.millis(c.entropyNanos), d.image.psnr(image)));
                } catch (IOException | RuntimeException e) {
                    setStatus("Cannot compress " + source + ": " + e.getMessage());
                }
            }
        });
    }

    /** Reads a photo, applies its EXIF rotation and scales it to what the export takes. */
    private RgbImage loadPhoto(Uri uri) throws IOException {
        BitmapFactory.Options bounds = new BitmapFactory.Options();
        bounds.inJustDecodeBounds = true;
        try (InputStream in = getContentResolver().openInputStream(uri)) {
            BitmapFactory.decodeStream(in, null, bounds);
        }
        if (bounds.outWidth <= 0 || bounds.outHeight <= 0) {
            throw new IOException("not an image this phone can read");
        }
        int degrees = 0;
        try (InputStream in = getContentResolver().openInputStream(uri)) {
            int orientation = new ExifInterface(in).getAttributeInt(ExifInterface.TAG_ORIENTATION,
                    ExifInterface.ORIENTATION_NORMAL);
            degrees = orientation == ExifInterface.ORIENTATION_ROTATE_90 ? 90
                    : orientation == ExifInterface.ORIENTATION_ROTATE_180 ? 180
                    : orientation == ExifInterface.ORIENTATION_ROTATE_270 ? 270 : 0;
        } catch (IOException | RuntimeException noExif) {
            degrees = 0;
        }
        boolean swap = degrees == 90 || degrees == 270;
        int uprightW = swap ? bounds.outHeight : bounds.outWidth;
        int uprightH = swap ? bounds.outWidth : bounds.outHeight;
        int[] target = Sizing.fit(uprightW, uprightH, MAX_SIDE);
        BitmapFactory.Options options = new BitmapFactory.Options();
        options.inPreferredConfig = Bitmap.Config.ARGB_8888;
        options.inSampleSize = Sizing.sampleSize(uprightW, uprightH, Math.max(target[0], target[1]));
        Bitmap bitmap;
        try (InputStream in = getContentResolver().openInputStream(uri)) {
            bitmap = BitmapFactory.decodeStream(in, null, options);
        }
        if (bitmap == null) {
            throw new IOException("not an image this phone can read");
        }
        Matrix matrix = new Matrix();
        matrix.postRotate(degrees);
        Bitmap upright = Bitmap.createBitmap(bitmap, 0, 0, bitmap.getWidth(), bitmap.getHeight(), matrix, true);
        Bitmap scaled = Bitmap.createScaledBitmap(upright, target[0], target[1], true);
        int[] argb = new int[target[0] * target[1]];
        scaled.getPixels(argb, 0, target[0], 0, 0, target[0], target[1]);
        return new RgbImage(target[0], target[1], argb);
    }

    // -- files and intents -----------------------------------------------------------------------

    private void openTfc() {
        Intent intent = new Intent(Intent.ACTION_OPEN_DOCUMENT);
        intent.addCategory(Intent.CATEGORY_OPENABLE);
        intent.setType("*/*");  // .tfc has no registered MIME type
        start(intent, OPEN_TFC);
    }

    private void pickPhoto() {
        Intent intent = new Intent(Intent.ACTION_OPEN_DOCUMENT);
        intent.addCategory(Intent.CATEGORY_OPENABLE);
        intent.setType("image/*");
        start(intent, PICK_PHOTO);
    }

    private void takePhoto() {
        Intent intent = new Intent(MediaStore.ACTION_IMAGE_CAPTURE);
        intent.putExtra(MediaStore.EXTRA_OUTPUT, CaptureProvider.uri());
        intent.addFlags(Intent.FLAG_GRANT_WRITE_URI_PERMISSION | Intent.FLAG_GRANT_READ_URI_PERMISSION);
        start(intent, TAKE_PHOTO);
    }

    private void saveTfc() {
        if (lastFile == null) {
            return;
        }
        Intent intent = new Intent(Intent.ACTION_CREATE_DOCUMENT);
        intent.addCategory(Intent.CATEGORY_OPENABLE);
        intent.setType("application/octet-stream");
        intent.putExtra(Intent.EXTRA_TITLE, "photo.tfc");
        start(intent, SAVE_TFC);
    }

    private void start(Intent intent, int request) {
        try {
            startActivityForResult(intent, request);
        } catch (ActivityNotFoundException e) {
            setStatus("No app on this phone handles " + intent.getAction());
        }
    }

    private void chooseSample() {
        try {
            String[] all = getAssets().list(SAMPLES);
            final List<String> samples = new ArrayList<>();
            for (String name : all == null ? new String[0] : all) {
                if (name.endsWith(".tfc")) {
                    samples.add(name);
                }
            }
            if (samples.isEmpty()) {
                setStatus("No samples in assets/" + SAMPLES + "/: add .tfc files made with the bundled model "
                        + "(tfcodec compress photo.png app/src/main/assets/" + SAMPLES + "/photo.tfc --model ...).");
                return;
            }
            if (samples.size() == 1) {
                decodeSample(samples.get(0));
                return;
            }
            new AlertDialog.Builder(this)
                    .setTitle("Sample")
                    .setItems(samples.toArray(new String[0]), new android.content.DialogInterface.OnClickListener() {
                        @Override
                        public void onClick(android.content.DialogInterface dialog, int which) {
                            decodeSample(samples.get(which));
                        }
                    })
                    .show();
        } catch (IOException e) {
            setStatus("Cannot list the samples: " + e.getMessage());
        }
    }

    private void decodeSample(String name) {
        try (InputStream in = getAssets().open(SAMPLES + "/" + name)) {
            decode(EdgeCodec.readAll(in, MAX_FILE_BYTES), "assets/" + SAMPLES + "/" + name);
        } catch (IOException e) {
            setStatus("Cannot read " + name + ": " + e.getMessage());
        }
    }

    @Override
    protected void onActivityResult(int request, int result, Intent data) {
        super.onActivityResult(request, result, data);
        if (result != RESULT_OK) {
            return;
        }
        Uri uri = data != null ? data.getData() : null;
        try {
            if (request == OPEN_TFC && uri != null) {
                try (InputStream in = getContentResolver().openInputStream(uri)) {
                    decode(EdgeCodec.readAll(in, MAX_FILE_BYTES), uri.getLastPathSegment());
                }
            } else if (request == PICK_PHOTO && uri != null) {
                compress(uri, uri.getLastPathSegment());
            } else if (request == TAKE_PHOTO) {
                compress(Uri.fromFile(CaptureProvider.file(getCacheDir())), "camera photo");
            } else if (request == SAVE_TFC && uri != null && lastFile != null) {
                try (OutputStream out = getContentResolver().openOutputStream(uri)) {
                    out.write(lastFile);
                }
                setStatus(String.format(Locale.US, "Saved %,d bytes to %s", lastFile.length, uri.getLastPathSegment()));
            }
        } catch (IOException | RuntimeException e) {
            setStatus("Error: " + e.getMessage());
        }
    }
}
