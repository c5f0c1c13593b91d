"""Writes minimal stand-ins of the Android and LiteRT classes the app uses (signatures only).

They let `check.sh` compile the app's Java sources with plain javac where no Android SDK exists,
which catches errors in the app's own code (types, calls into the codec core, typos). They are
NOT the real APIs: a signature that is wrong here is not caught; Android Studio is the real check.
"""
import os
import sys

STUBS = {
"android/os/Parcelable.java": "public interface Parcelable {}",
"android/os/Bundle.java": "public class Bundle {}",
"android/os/ParcelFileDescriptor.java": """public class ParcelFileDescriptor implements java.io.Closeable {
    public static final int MODE_READ_ONLY = 0x10000000, MODE_READ_WRITE = 0x30000000, MODE_CREATE = 0x08000000, MODE_TRUNCATE = 0x04000000;
    public static ParcelFileDescriptor open(java.io.File file, int mode) throws java.io.FileNotFoundException { throw new RuntimeException(); }
    public void close() {}
}""",
"android/net/Uri.java": """public abstract class Uri implements android.os.Parcelable {
    public static Uri parse(String s) { throw new RuntimeException(); }
    public static Uri fromFile(java.io.File f) { throw new RuntimeException(); }
    public abstract String getLastPathSegment();
}""",
"android/util/DisplayMetrics.java": "public class DisplayMetrics { public float density; }",
"android/content/res/Resources.java": "public class Resources { public android.util.DisplayMetrics getDisplayMetrics() { throw new RuntimeException(); } }",
"android/content/res/AssetManager.java": """public final class AssetManager {
    public java.io.InputStream open(String name) throws java.io.IOException { throw new RuntimeException(); }
    public AssetFileDescriptor openFd(String name) throws java.io.IOException { throw new RuntimeException(); }
    public String[] list(String path) throws java.io.IOException { throw new RuntimeException(); }
}""",
"android/content/res/AssetFileDescriptor.java": """public class AssetFileDescriptor implements java.io.Closeable {
    public java.io.FileInputStream createInputStream() throws java.io.IOException { throw new RuntimeException(); }
    public long getStartOffset() { return 0; }
    public long getDeclaredLength() { return 0; }
    public void close() throws java.io.IOException {}
}""",
"android/content/Context.java": """public abstract class Context {
    public abstract android.content.res.AssetManager getAssets();
    public abstract android.content.res.Resources getResources();
    public abstract ContentResolver getContentResolver();
    public abstract java.io.File getCacheDir();
}""",
"android/content/ContentResolver.java": """public abstract class ContentResolver {
    public final java.io.InputStream openInputStream(android.net.Uri uri) throws java.io.FileNotFoundException { throw new RuntimeException(); }
    public final java.io.OutputStream openOutputStream(android.net.Uri uri) throws java.io.FileNotFoundException { throw new RuntimeException(); }
}""",
"android/content/ContentValues.java": "public final class ContentValues {}",
"android/content/ActivityNotFoundException.java": "public class ActivityNotFoundException extends RuntimeException {}",
"android/content/DialogInterface.java": """public interface DialogInterface {
    interface OnClickListener { void onClick(DialogInterface dialog, int which); }
}""",
"android/content/Intent.java": """public class Intent {
    public static final String ACTION_OPEN_DOCUMENT = "android.intent.action.OPEN_DOCUMENT";
    public static final String ACTION_CREATE_DOCUMENT = "android.intent.action.CREATE_DOCUMENT";
    public static final String CATEGORY_OPENABLE = "android.intent.category.OPENABLE";
    public static final String EXTRA_TITLE = "android.intent.extra.TITLE";
    public static final int FLAG_GRANT_READ_URI_PERMISSION = 1, FLAG_GRANT_WRITE_URI_PERMISSION = 2;
    public Intent(String action) {}
    public Intent addCategory(String category) { return this; }
    public Intent setType(String type) { return this; }
    public Intent putExtra(String name, android.os.Parcelable value) { return this; }
    public Intent putExtra(String name, String value) { return this; }
    public Intent addFlags(int flags) { return this; }
    public String getAction() { return null; }
    public android.net.Uri getData() { return null; }
}""",
"android/content/ContentProvider.java": """public abstract class ContentProvider {
    public final Context getContext() { throw new RuntimeException(); }
    public abstract boolean onCreate();
    public android.os.ParcelFileDescriptor openFile(android.net.Uri uri, String mode) throws java.io.FileNotFoundException { throw new RuntimeException(); }
    public abstract String getType(android.net.Uri uri);
    public abstract android.database.Cursor query(android.net.Uri uri, String[] projection, String selection, String[] selectionArgs, String sortOrder);
    public abstract android.net.Uri insert(android.net.Uri uri, ContentValues values);
    public abstract int delete(android.net.Uri uri, String selection, String[] selectionArgs);
    public abstract int update(android.net.Uri uri, ContentValues values, String selection, String[] selectionArgs);
}""",
"android/database/Cursor.java": "public interface Cursor extends java.io.Closeable {}",
"android/app/Activity.java": """public class Activity extends android.content.Context {
    public static final int RESULT_OK = -1;
    protected void onCreate(android.os.Bundle state) {}
    protected void onDestroy() {}
    protected void onActivityResult(int requestCode, int resultCode, android.content.Intent data) {}
    public void setContentView(android.view.View view) {}
    public final void runOnUiThread(Runnable action) {}
    public void startActivityForResult(android.content.Intent intent, int requestCode) {}
    public android.content.res.AssetManager getAssets() { throw new RuntimeException(); }
    public android.content.res.Resources getResources() { throw new RuntimeException(); }
    public android.content.ContentResolver getContentResolver() { throw new RuntimeException(); }
    public java.io.File getCacheDir() { throw new RuntimeException(); }
}""",
"android/app/AlertDialog.java": """public class AlertDialog implements android.content.DialogInterface {
    public static class Builder {
        public Builder(android.content.Context context) {}
        public Builder setTitle(CharSequence title) { return this; }
        public Builder setItems(CharSequence[] items, android.content.DialogInterface.OnClickListener listener) { return this; }
        public AlertDialog show() { throw new RuntimeException(); }
    }
}""",
"android/graphics/Rect.java": "public final class Rect {}",
"android/graphics/Matrix.java": "public class Matrix { public boolean postRotate(float degrees) { return true; } }",
"android/graphics/Bitmap.java": """public final class Bitmap {
    public enum Config { ALPHA_8, RGB_565, ARGB_8888 }
    public static Bitmap createBitmap(int[] colors, int width, int height, Config config) { throw new RuntimeException(); }
    public static Bitmap createBitmap(Bitmap source, int x, int y, int width, int height, Matrix m, boolean filter) { throw new RuntimeException(); }
    public static Bitmap createScaledBitmap(Bitmap src, int dstWidth, int dstHeight, boolean filter) { throw new RuntimeException(); }
    public int getWidth() { return 0; }
    public int getHeight() { return 0; }
    public void getPixels(int[] pixels, int offset, int stride, int x, int y, int width, int height) {}
}""",
"android/graphics/BitmapFactory.java": """public class BitmapFactory {
    public static class Options {
        public boolean inJustDecodeBounds;
        public int inSampleSize;
        public int outWidth;
        public int outHeight;
        public Bitmap.Config inPreferredConfig;
    }
    public static Bitmap decodeStream(java.io.InputStream is, Rect outPadding, Options opts) { throw new RuntimeException(); }
}""",
"android/media/ExifInterface.java": """public class ExifInterface {
    public static final String TAG_ORIENTATION = "Orientation";
    public static final int ORIENTATION_NORMAL = 1, ORIENTATION_ROTATE_180 = 3, ORIENTATION_ROTATE_90 = 6, ORIENTATION_ROTATE_270 = 8;
    public ExifInterface(java.io.InputStream in) throws java.io.IOException {}
    public int getAttributeInt(String tag, int defaultValue) { return defaultValue; }
}""",
"android/provider/MediaStore.java": """public final class MediaStore {
    public static final String ACTION_IMAGE_CAPTURE = "android.media.action.IMAGE_CAPTURE";
    public static final String EXTRA_OUTPUT = "output";
}""",
"android/view/View.java": """public class View {
    public interface OnClickListener { void onClick(View v); }
    public View(android.content.Context context) {}
    public void setOnClickListener(OnClickListener l) {}
    public void setEnabled(boolean enabled) {}
    public void setPadding(int left, int top, int right, int bottom) {}
}""",
"android/view/ViewGroup.java": """public abstract class ViewGroup extends View {
    public static class LayoutParams {
        public static final int MATCH_PARENT = -1, WRAP_CONTENT = -2;
        public LayoutParams(int width, int height) {}
    }
    public static class MarginLayoutParams extends LayoutParams {
        public MarginLayoutParams(int width, int height) { super(width, height); }
    }
    public ViewGroup(android.content.Context context) { super(context); }
    public void addView(View child) {}
    public void addView(View child, LayoutParams params) {}
}""",
"android/widget/FrameLayout.java": "public class FrameLayout extends android.view.ViewGroup { public FrameLayout(android.content.Context c) { super(c); } }",
"android/widget/ScrollView.java": "public class ScrollView extends FrameLayout { public ScrollView(android.content.Context c) { super(c); } }",
"android/widget/LinearLayout.java": """public class LinearLayout extends android.view.ViewGroup {
    public static final int HORIZONTAL = 0, VERTICAL = 1;
    public static class LayoutParams extends android.view.ViewGroup.MarginLayoutParams {
        public LayoutParams(int width, int height) { super(width, height); }
        public LayoutParams(int width, int height, float weight) { super(width, height); }
    }
    public LinearLayout(android.content.Context c) { super(c); }
    public void setOrientation(int orientation) {}
}""",
"android/widget/TextView.java": """public class TextView extends android.view.View {
    public TextView(android.content.Context c) { super(c); }
    public final void setText(CharSequence text) {}
    public void setTextIsSelectable(boolean selectable) {}
}""",
"android/widget/Button.java": "public class Button extends TextView { public Button(android.content.Context c) { super(c); } }",
"android/widget/ImageView.java": """public class ImageView extends android.view.View {
    public ImageView(android.content.Context c) { super(c); }
    public void setImageBitmap(android.graphics.Bitmap bm) {}
    public void setAdjustViewBounds(boolean adjust) {}
}""",
"android/widget/SeekBar.java": """public class SeekBar extends android.view.View {
    public interface OnSeekBarChangeListener {
        void onProgressChanged(SeekBar seekBar, int progress, boolean fromUser);
        void onStartTrackingTouch(SeekBar seekBar);
        void onStopTrackingTouch(SeekBar seekBar);
    }
    public SeekBar(android.content.Context c) { super(c); }
    public synchronized void setMax(int max) {}
    public synchronized void setProgress(int progress) {}
    public synchronized int getProgress() { return 0; }
    public void setOnSeekBarChangeListener(OnSeekBarChangeListener l) {}
}""",
"org/tensorflow/lite/DataType.java": "public enum DataType { FLOAT32, INT32, UINT8, INT64, STRING, BOOL, INT16, INT8 }",
"org/tensorflow/lite/Tensor.java": """public interface Tensor {
    class QuantizationParams {
        public QuantizationParams(float scale, int zeroPoint) {}
        public float getScale() { return 0; }
        public int getZeroPoint() { return 0; }
    }
    DataType dataType();
    int[] shape();
    int[] shapeSignature();
    int numBytes();
    QuantizationParams quantizationParams();
}""",
"org/tensorflow/lite/Interpreter.java": """public final class Interpreter implements AutoCloseable {
    public static class Options {
        public Options setNumThreads(int numThreads) { return this; }
    }
    public Interpreter(java.nio.ByteBuffer model, Options options) {}
    public Tensor getInputTensor(int index) { throw new RuntimeException(); }
    public Tensor getOutputTensor(int index) { throw new RuntimeException(); }
    public void resizeInput(int index, int[] dims) {}
    public void allocateTensors() {}
    public void run(Object input, Object output) {}
    public void close() {}
}""",
}


def main(out):
    for rel, body in STUBS.items():
        path = os.path.join(out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        package = os.path.dirname(rel).replace("/", ".")
        with open(path, "w") as f:
            f.write(f"package {package};\n\n{body}\n")


if __name__ == "__main__":
    main(sys.argv[1])
