/* The integer nets' optional compiled path: the transforms of an exact Winograd F(2x2, 3x3)
 * convolution (tfcodec/entropy/integer_net.py has the exactness argument in full).
 *
 * A 3x3 'same' convolution of an (h, w, cin) activation becomes, per 2x2 output tile,
 *     Y' = A^T [ (G' w G'^T) . (B^T d B) ] A,        Y' = 4 * (the convolution),
 * with d the tile's 4x4 input patch, G' = 2G = [[2,0,0],[1,1,1],[1,-1,1],[0,0,2]],
 * B^T = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]] and A^T = [[1,1,1,0],[0,1,-1,-1]]: every
 * matrix is made of small integers, so with integer weights and activations every value is an
 * integer. Python computes U = G' w G'^T once per layer and does the 16 GEMMs
 * M[k] = V[k] @ U[k] (float64 BLAS, exact: Python checks that every partial sum stays below
 * 2**53); this module does the two cheap but memory-bound passes around them:
 *
 *   input_transform(x, V[, threads[, group]]):  x (h, w, cin) float64 or int64, C-contiguous;
 *       V float64 (T, 16, cin), T = ceil(h/2) * ceil(w/2) tiles in row-major order, or with
 *       group g in 0..3 only the rows k = 4g..4g+3: V (T, 4, cin). Tile-major, so that a tile's
 *       rows are written together; the GEMMs read V[:, k] through its row stride. The 'same'
 *       zero padding is done here (positions outside the image read as 0): float64 x is read in
 *       place, only tiles over the left or right edge going through a small padded patch.
 *
 *   output_transform(M, bias, shift, ops, out, h, w, block, mode[, threads]):  M (T, 16, cout)
 *       float64 -> out, fused with the layer's epilogue exactly as integer_net.py's numpy path
 *       computes it: Y'/4 + bias, shift-round (round half up; a negative shift shifts left),
 *       saturate to +-(2**20 - 1), then the elementwise ops that follow the conv in the net
 *       (ops: int64 pairs (kind, slope), kind 1 ReLU, 3 LeakyReLU), and a DepthToSpace of
 *       `block` (1: none) as the write pattern. out: (h*block, w*block, cout/block**2), int64
 *       or float64 (exact integers either way). mode 0: A^T M A and the whole epilogue in
 *       float64, vectorised (Python checked every step exact, see "The fast epilogue" below);
 *       mode 1: A^T M A in float64 (Python checked that the 16 M bounds add up to less than
 *       2**53, so every partial sum is exact), the epilogue in int64; mode 2: each M converted
 *       to int64 first (M itself is an exact integer below 2**53, and sums of 9 fit int64).
 *
 *   threads: tile rows split between that many threads (1: the caller's only).
 *
 * The int64 arithmetic of the epilogue wraps (through uint64) where numpy's would, and shifts
 * by 64 or more give what numpy gives (0, or -1 for a negative value shifted right), so even
 * out-of-range weights give numpy's bits. Right shifts of negative values rely on gcc/clang's
 * arithmetic shift, which is what numpy uses too. The GIL is released in both loops.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#define LIMIT ((int64_t)((1 << 20) - 1))
#define MAX_OPS 16
#define MAX_THREADS 16
#define MIN_WORK_PER_THREAD 65536 /* transformed values: below, a thread costs more than it saves */

enum { OP_RELU = 1, OP_LEAKY = 3 };

/* numpy's int64 shifts (npy_lshiftll / npy_rshiftll): defined for every count. */
static inline int64_t lshift(int64_t a, int64_t b) {
    return (b >= 0 && b < 64) ? (int64_t)((uint64_t)a << b) : 0;
}
static inline int64_t rshift(int64_t a, int64_t b) {
    if (b >= 0 && b < 64) return a >> b;
    return a < 0 ? -1 : 0;
}
static inline int64_t wadd(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static inline int64_t wmul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }

static int get_buffer(PyObject *obj, Py_buffer *b, int writable) {
    return PyObject_GetBuffer(obj, b, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0));
}

static int is_f64(const Py_buffer *b) { return b->itemsize == 8 && b->format && b->format[0] == 'd'; }
static int is_i64(const Py_buffer *b) {
    return b->itemsize == 8 && b->format && (b->format[0] == 'l' || b->format[0] == 'q');
}

/* Vectors of 4 doubles where the compiler has GCC's vector extensions (gcc, clang: SSE2 does
 * them as pairs); the same code on scalars elsewhere and for the channels left over. */
#if defined(__GNUC__)
#define VW 2
typedef double vd __attribute__((vector_size(VW * sizeof(double))));
static inline vd vload(const double *p) {
    vd v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void vstore(double *p, vd v) { memcpy(p, &v, sizeof v); }
#else
#define VW 1
typedef double vd;
static inline vd vload(const double *p) { return *p; }
static inline void vstore(double *p, vd v) { *p = v; }
#endif
static inline double sload(const double *p) { return *p; }
static inline void sstore(double *p, double v) { *p = v; }

/* V[tile, :, ch..] = B^T d B, one row i of B^T d at a time (two input rows each), so that few
 * values are live at once: a register-sized working set for SSE2's 16 registers. */
#define INPUT_ROW(T, LOAD, STORE, i, p, OP, q)                                                     \
    do {                                                                                           \
        const T t0 = LOAD(p + ch) OP LOAD(q + ch), t1 = LOAD(p + c + ch) OP LOAD(q + c + ch);      \
        const T t2 = LOAD(p + 2 * c + ch) OP LOAD(q + 2 * c + ch),                                 \
                t3 = LOAD(p + 3 * c + ch) OP LOAD(q + 3 * c + ch);                                 \
        STORE(out + (4 * i + 0) * c + ch, t0 - t2);                                                \
        STORE(out + (4 * i + 1) * c + ch, t1 + t2);                                                \
        STORE(out + (4 * i + 2) * c + ch, t2 - t1);                                                \
        STORE(out + (4 * i + 3) * c + ch, t1 - t3);                                                \
    } while (0)
/* Rows of B^T d: d0 - d2, d1 + d2, d2 - d1, d1 - d3. */
#define INPUT_TILE(T, LOAD, STORE)                                                                 \
    do {                                                                                           \
        INPUT_ROW(T, LOAD, STORE, 0, a, -, d);                                                     \
        INPUT_ROW(T, LOAD, STORE, 1, b, +, d);                                                     \
        INPUT_ROW(T, LOAD, STORE, 2, d, -, b);                                                     \
        INPUT_ROW(T, LOAD, STORE, 3, b, -, e);                                                     \
    } while (0)

/* B^T d B for one row of tiles, every channel. s0..s3: the tile row's four input rows, already
 * zero-padded (column -1 first) and as float64, (w + 3) * c each; v at V[first tile, 0, 0].
 * group < 0: all 16 rows of each tile (V (T, 16, c)); group i in 0..3: only the rows 4i..4i+3
 * (V (T, 4, c)), so that the caller can transform and multiply a quarter at a time, the buffer
 * staying in cache between the transform and its four GEMMs. */
static void input_tile(const double *a, const double *b, const double *d, const double *e, double *out,
                       Py_ssize_t c, int group) {
    {
        Py_ssize_t ch = 0;
#define GROUP(p, OP, q)                                                                            \
    do {                                                                                           \
        for (; ch + VW <= c; ch += VW) INPUT_ROW(vd, vload, vstore, 0, p, OP, q);                  \
        for (; ch < c; ch++) INPUT_ROW(double, sload, sstore, 0, p, OP, q);                        \
    } while (0)
        switch (group) {
        case 0: GROUP(a, -, d); break;
        case 1: GROUP(b, +, d); break;
        case 2: GROUP(d, -, b); break;
        case 3: GROUP(b, -, e); break;
        default:
            for (; ch + VW <= c; ch += VW) INPUT_TILE(vd, vload, vstore);
            for (; ch < c; ch++) INPUT_TILE(double, sload, sstore);
        }
#undef GROUP
    }
}

static void input_row(const double *s0, const double *s1, const double *s2, const double *s3, double *v,
                      Py_ssize_t c, Py_ssize_t tw, int group) {
    const Py_ssize_t stride = group < 0 ? 16 * c : 4 * c;
    for (Py_ssize_t tx = 0; tx < tw; tx++) {
        const Py_ssize_t o = 2 * tx * c;
        input_tile(s0 + o, s1 + o, s2 + o, s3 + o, v + tx * stride, c, group);
    }
}

/* The float64 input read in place: a tile inside the image reads x's rows directly (a row
 * outside it reads zeros); only a tile over the left or right edge is copied into a zero-padded
 * 4 x 4 patch first. scratch: 20 * c doubles. */
static void input_direct(const double *x, double *v, Py_ssize_t h, Py_ssize_t w, Py_ssize_t c, int group,
                         Py_ssize_t ty0, Py_ssize_t ty1, double *scratch) {
    const Py_ssize_t tw = (w + 1) / 2, stride = group < 0 ? 16 * c : 4 * c;
    double *zero = scratch, *patch = scratch + 4 * c;
    memset(zero, 0, 4 * (size_t)c * sizeof(double));
    for (Py_ssize_t ty = ty0; ty < ty1; ty++) {
        const double *row[4];
        for (int i = 0; i < 4; i++) {
            const Py_ssize_t r = 2 * ty - 1 + i;
            row[i] = (r >= 0 && r < h) ? x + r * w * c : NULL;
        }
        for (Py_ssize_t tx = 0; tx < tw; tx++) {
            const Py_ssize_t col0 = 2 * tx - 1;
            const double *p[4];
            if (col0 >= 0 && col0 + 4 <= w) {
                for (int i = 0; i < 4; i++) p[i] = row[i] ? row[i] + col0 * c : zero;
            } else {
                for (int i = 0; i < 4; i++) {
                    for (int j = 0; j < 4; j++) {
                        const Py_ssize_t col = col0 + j;
                        const double *src = (row[i] && col >= 0 && col < w) ? row[i] + col * c : zero;
                        memcpy(patch + (4 * i + j) * c, src, (size_t)c * sizeof(double));
                    }
                    p[i] = patch + 4 * i * c;
                }
            }
            input_tile(p[0], p[1], p[2], p[3], v + (ty * tw + tx) * stride, c, group);
        }
    }
}

/* Input row r of x (or zeros outside the image) into a padded float64 row of (w + 3) * c. */
static void load_row(const void *x, int f64, Py_ssize_t r, Py_ssize_t h, Py_ssize_t w, Py_ssize_t c,
                     double *restrict row) {
    const Py_ssize_t n = w * c;
    memset(row, 0, (size_t)c * sizeof(double));
    memset(row + (w + 1) * c, 0, 2 * (size_t)c * sizeof(double));
    if (r < 0 || r >= h) {
        memset(row + c, 0, (size_t)n * sizeof(double));
    } else if (f64) {
        memcpy(row + c, (const double *)x + r * n, (size_t)n * sizeof(double));
    } else {
        const int64_t *restrict src = (const int64_t *)x + r * n;
        for (Py_ssize_t i = 0; i < n; i++) row[c + i] = (double)src[i];
    }
}

/* Tile rows [ty0, ty1). scratch: 4 rows of (w + 3) * c doubles. */
static void input_all(const void *x, int f64, double *v, Py_ssize_t h, Py_ssize_t w, Py_ssize_t c,
                      int group, Py_ssize_t ty0, Py_ssize_t ty1, double *scratch) {
    const Py_ssize_t tw = (w + 1) / 2, len = (w + 3) * c;
    double *rows[4] = {scratch, scratch + len, scratch + 2 * len, scratch + 3 * len};
    for (Py_ssize_t ty = ty0; ty < ty1; ty++) {
        if (ty == ty0) {
            for (int i = 0; i < 4; i++) load_row(x, f64, 2 * ty + i - 1, h, w, c, rows[i]);
        } else { /* rows 2ty - 1 and 2ty were the last two of the previous tile row */
            double *p0 = rows[0], *p1 = rows[1];
            rows[0] = rows[2], rows[1] = rows[3], rows[2] = p0, rows[3] = p1;
            load_row(x, f64, 2 * ty + 1, h, w, c, rows[2]);
            load_row(x, f64, 2 * ty + 2, h, w, c, rows[3]);
        }
        input_row(rows[0], rows[1], rows[2], rows[3], v + ty * tw * (group < 0 ? 16 : 4) * c, c, tw, group);
    }
}

/* Both transforms split the tile rows between up to `threads` threads (the caller's and
 * threads - 1 pthreads), each with its own scratch; the rows are independent. */
typedef struct {
    int kind; /* 0 input, 1 output fast, 2 output exact */
    const void *src;
    int f64, group;
    double *v;
    Py_ssize_t h, w, c;
    const struct Epilogue *e;
    const struct Fast *f;
    Py_ssize_t ty0, ty1;
    void *scratch;
} Job;

static void run_job(Job *j);

#ifndef _WIN32
#include <pthread.h>
static void *job_thread(void *arg) {
    run_job(arg);
    return NULL;
}
#endif

/* Runs jobs[0..n) (the first on this thread); falls back to one after another where a thread
 * cannot start. */
static void run_jobs(Job *jobs, int n) {
#ifndef _WIN32
    pthread_t tid[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    for (int i = 1; i < n; i++) started[i] = pthread_create(&tid[i], NULL, job_thread, &jobs[i]) == 0;
    run_job(&jobs[0]);
    for (int i = 1; i < n; i++) {
        if (started[i])
            pthread_join(tid[i], NULL);
        else
            run_job(&jobs[i]);
    }
#else
    for (int i = 0; i < n; i++) run_job(&jobs[i]);
#endif
}

/* Runs `job` over tile rows [0, rows) split between n threads, thread i with its own `per`
 * doubles of scratch from `scratch`, with the GIL released. */
static void run_split(Job job, int n, Py_ssize_t rows, double *scratch, Py_ssize_t per) {
    Job jobs[MAX_THREADS];
    for (int i = 0; i < n; i++) {
        jobs[i] = job;
        jobs[i].ty0 = rows * i / n;
        jobs[i].ty1 = rows * (i + 1) / n;
        jobs[i].scratch = scratch + i * per;
    }
    Py_BEGIN_ALLOW_THREADS
    run_jobs(jobs, n);
    Py_END_ALLOW_THREADS
}

/* How many threads for `work` transformed values, given the caller's limit. */
static int thread_count(int threads, Py_ssize_t rows, Py_ssize_t work) {
    int n = threads < 1 ? 1 : (threads > MAX_THREADS ? MAX_THREADS : threads);
    if (n > rows) n = (int)rows;
    while (n > 1 && work / n < MIN_WORK_PER_THREAD) n--;
    return n < 1 ? 1 : n;
}

/* input_transform(x, V[, threads[, group]]) */
static PyObject *input_transform(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *xo, *vo;
    int threads = 1, group = -1;
    if (!PyArg_ParseTuple(args, "OO|ii", &xo, &vo, &threads, &group)) return NULL;
    Py_buffer xb, vb;
    if (get_buffer(xo, &xb, 0) < 0) return NULL;
    if (get_buffer(vo, &vb, 1) < 0) {
        PyBuffer_Release(&xb);
        return NULL;
    }
    PyObject *result = NULL;
    if (xb.ndim != 3 || !(is_f64(&xb) || is_i64(&xb)) || vb.ndim != 3 || !is_f64(&vb)) {
        PyErr_SetString(PyExc_ValueError, "_intconv.input_transform: x (h, w, c) float64/int64, V (T, 16, c) float64");
        goto done;
    }
    const Py_ssize_t h = xb.shape[0], w = xb.shape[1], c = xb.shape[2];
    if (group < -1 || group > 3 || vb.shape[1] != (group < 0 ? 16 : 4) ||
        vb.shape[0] != ((h + 1) / 2) * ((w + 1) / 2) || vb.shape[2] != c) {
        PyErr_SetString(PyExc_ValueError, "_intconv.input_transform: V has the wrong shape");
        goto done;
    }
    const Py_ssize_t th = (h + 1) / 2, per = (4 * (w + 3) > 20 ? 4 * (w + 3) : 20) * (c ? c : 1);
    const int n = thread_count(threads, th, vb.shape[0] * vb.shape[1] * c);
    double *scratch = malloc((size_t)(n * per) * sizeof(double));
    if (!scratch) {
        PyErr_NoMemory();
        goto done;
    }
    const Job job = {0, xb.buf, is_f64(&xb), group, vb.buf, h, w, c, NULL, NULL, 0, 0, NULL};
    run_split(job, n, th, scratch, per);
    free(scratch);
    Py_INCREF(Py_None);
    result = Py_None;
done:
    PyBuffer_Release(&xb);
    PyBuffer_Release(&vb);
    return result;
}

typedef struct Epilogue {
    const int64_t *bias, *shift;
    const int64_t *ops; /* (kind, slope) pairs */
    int nops;
    Py_ssize_t h, w, cout, block, outc;
    int wide, out_f64;
    void *out;
} Epilogue;

/* One output value y (= the convolution at (row, col), channel co), epilogue and store. */
static inline void finish(const Epilogue *e, int64_t acc, Py_ssize_t row, Py_ssize_t col, Py_ssize_t co) {
    const int64_t s = e->shift[co];
    const int64_t left = s < 0 ? -s : 0, right = s > 0 ? s : 0;
    int64_t x = lshift(wadd(acc, e->bias[co]), left);
    const int64_t half = right > 0 ? lshift(1, right - 1) : 0;
    x = rshift(wadd(x, half), right);
    x = x < -LIMIT ? -LIMIT : (x > LIMIT ? LIMIT : x);
    for (int i = 0; i < e->nops; i++) {
        if (e->ops[2 * i] == OP_RELU)
            x = x > 0 ? x : 0;
        else if (x < 0)
            x = rshift(wmul(x, e->ops[2 * i + 1]), 16);
    }
    Py_ssize_t idx;
    if (e->block == 1) {
        idx = (row * e->w + col) * e->cout + co;
    } else { /* depth_to_space, DCR order: channel co = (i * block + j) * outc + c */
        const Py_ssize_t b = e->block, q = co / e->outc, c = co % e->outc;
        idx = ((row * b + q / b) * (e->w * b) + (col * b + q % b)) * e->outc + c;
    }
    if (e->out_f64)
        ((double *)e->out)[idx] = (double)x;
    else
        ((int64_t *)e->out)[idx] = x;
}

/* acc: scratch of 4 * cout int64. */
static void output_all(const double *M, const Epilogue *e, Py_ssize_t ty0, Py_ssize_t ty1, int64_t *acc) {
    const Py_ssize_t tw = (e->w + 1) / 2, c = e->cout, plane = c;
    for (Py_ssize_t ty = ty0; ty < ty1; ty++)
        for (Py_ssize_t tx = 0; tx < tw; tx++) {
            const double *m = M + (ty * tw + tx) * 16 * c;
            if (!e->wide) {
                /* Every partial sum below is bounded by the sum of all 16 |M| bounds < 2**53. */
                for (Py_ssize_t co = 0; co < c; co++) {
                    double r0[4], r1[4];
                    for (int j = 0; j < 4; j++) {
                        r0[j] = m[j * plane + co] + m[(4 + j) * plane + co] + m[(8 + j) * plane + co];
                        r1[j] = m[(4 + j) * plane + co] - m[(8 + j) * plane + co] - m[(12 + j) * plane + co];
                    }
                    acc[co] = (int64_t)(r0[0] + r0[1] + r0[2]);
                    acc[c + co] = (int64_t)(r0[1] - r0[2] - r0[3]);
                    acc[2 * c + co] = (int64_t)(r1[0] + r1[1] + r1[2]);
                    acc[3 * c + co] = (int64_t)(r1[1] - r1[2] - r1[3]);
                }
            } else {
                for (Py_ssize_t co = 0; co < c; co++) {
                    int64_t v[16], r0[4], r1[4];
                    for (int k = 0; k < 16; k++) v[k] = (int64_t)m[k * plane + co];
                    for (int j = 0; j < 4; j++) {
                        r0[j] = v[j] + v[4 + j] + v[8 + j];
                        r1[j] = v[4 + j] - v[8 + j] - v[12 + j];
                    }
                    acc[co] = r0[0] + r0[1] + r0[2];
                    acc[c + co] = r0[1] - r0[2] - r0[3];
                    acc[2 * c + co] = r1[0] + r1[1] + r1[2];
                    acc[3 * c + co] = r1[1] - r1[2] - r1[3];
                }
            }
            /* Y' = 4 * the convolution exactly, so the division is exact. */
            for (int q = 0; q < 4; q++) {
                const Py_ssize_t row = 2 * ty + q / 2, col = 2 * tx + q % 2;
                if (row >= e->h || col >= e->w) continue;
                const int64_t *a = acc + q * c;
                for (Py_ssize_t co = 0; co < c; co++) finish(e, a[co] / 4, row, col, co);
            }
        }
}


/* The fast epilogue, all in float64 (mode 0). Python allows it only where it is exact (see
 * integer_net._winograd_plan): |acc/4 + bias| < 2**51 and shifts in [-40, 50], so that
 * (acc/4 + bias) * 2**-shift (+ 0.5 for a right shift) is computed without rounding and its floor
 * is numpy's (acc + bias + half) >> shift, or its << -shift without wrapping; saturation then
 * bounds every value by 2**20, and each LeakyReLU's x * slope stays below 2**51 (again checked
 * in Python), so floor(x * slope * 2**-16) is numpy's (x * slope) >> 16. The floor of a double
 * |z| < 2**51 is t = (z + 1.5 * 2**52) - 1.5 * 2**52 (z rounded to nearest), less 1 where t > z;
 * an integer-valued double |x| < 2**51 becomes int64 as the bits of x + 1.5 * 2**52 less those
 * of 1.5 * 2**52. Both vectorise (SSE2 does them two lanes at a time). */
typedef struct Fast {
    /* per channel: scale = 2**-shift / 4 (Y' is 4 * the convolution), offset = (bias + half) *
     * 2**-shift with half = 2**(shift - 1) for a right shift, else 0; so that
     * Y' * scale + offset = (acc + bias + half) * 2**-shift, every step exact. */
    const double *scale, *offset;
    const double *slope; /* per op: slope * 2**-16 */
    const int64_t *kinds;
    int nops, first; /* ops[first:] are applied; a leading ReLU is folded into `low` */
    double low;      /* -(2**20 - 1), or 0 where a ReLU comes first */
} Fast;

#define MAGIC 6755399441055744.0 /* 1.5 * 2**52 */

static inline double fast_scalar(const Fast *f, double y, Py_ssize_t co) {
    double x = floor(y * f->scale[co] + f->offset[co]);
    x = x < f->low ? f->low : (x > (double)LIMIT ? (double)LIMIT : x);
    for (int i = f->first; i < f->nops; i++) {
        if (f->kinds[i] == OP_RELU)
            x = x > 0 ? x : 0;
        else if (x < 0)
            x = floor(x * f->slope[i]);
    }
    return x;
}

static inline void store_scalar(void *out, int f64, Py_ssize_t idx, double x) {
    if (f64)
        ((double *)out)[idx] = x;
    else
        ((int64_t *)out)[idx] = (int64_t)x;
}

#if defined(__GNUC__)
typedef int64_t vi __attribute__((vector_size(VW * sizeof(int64_t))));
static inline vd vfloor(vd z) {
    const vd t = (z + MAGIC) - MAGIC;
    const vi gt = t > z;
    const vd one = z * 0.0 + 1.0;
    return t - (vd)((vi)one & gt);
}
static inline vd vselect(vi mask, vd a, vd b) { return (vd)(((vi)a & mask) | ((vi)b & ~mask)); }
#if defined(__SSE2__) && VW == 2
#include <emmintrin.h>
static inline vd vmax(vd a, vd b) { return (vd)_mm_max_pd((__m128d)a, (__m128d)b); }
static inline vd vmin(vd a, vd b) { return (vd)_mm_min_pd((__m128d)a, (__m128d)b); }
#else
static inline vd vmax(vd a, vd b) { return vselect(a > b, a, b); }
static inline vd vmin(vd a, vd b) { return vselect(a < b, a, b); }
#endif

static inline vd fast_vector(const Fast *f, vd y, Py_ssize_t co) {
    const vd zero = y * 0.0;
    vd x = vfloor(y * vload(f->scale + co) + vload(f->offset + co));
    x = vmin(vmax(x, zero + f->low), zero + (double)LIMIT);
    for (int i = f->first; i < f->nops; i++) {
        if (f->kinds[i] == OP_RELU)
            x = vmax(x, zero);
        else
            x = vselect(x < zero, vfloor(x * f->slope[i]), x);
    }
    return x;
}

static inline void store_vector(void *out, int f64, Py_ssize_t idx, vd x) {
    if (f64) {
        vstore((double *)out + idx, x);
    } else {
        const vd magic = x * 0.0 + MAGIC;
        const vi bits = (vi)(x + MAGIC) - (vi)magic;
        memcpy((int64_t *)out + idx, &bits, sizeof bits);
    }
}
#endif

/* acc: scratch of 4 * cout doubles. */
static void output_fast(const double *M, const Epilogue *e, const Fast *f, Py_ssize_t ty0, Py_ssize_t ty1,
                        double *acc) {
    const Py_ssize_t tw = (e->w + 1) / 2, c = e->cout, b = e->block, oc = e->outc;
    for (Py_ssize_t ty = ty0; ty < ty1; ty++)
        for (Py_ssize_t tx = 0; tx < tw; tx++) {
            const double *m = M + (ty * tw + tx) * 16 * c;
            Py_ssize_t co = 0;
#define OUTPUT_TILE(T, LOAD, STORE)                                                                \
    do {                                                                                           \
        T r0[4], r1[4];                                                                            \
        for (int j = 0; j < 4; j++) {                                                              \
            const T m0 = LOAD(m + j * c + co), m1 = LOAD(m + (4 + j) * c + co),                    \
                    m2 = LOAD(m + (8 + j) * c + co), m3 = LOAD(m + (12 + j) * c + co);             \
            r0[j] = m0 + m1 + m2;                                                                  \
            r1[j] = m1 - m2 - m3;                                                                  \
        }                                                                                          \
        STORE(acc + co, r0[0] + r0[1] + r0[2]);                                                    \
        STORE(acc + c + co, r0[1] - r0[2] - r0[3]);                                                \
        STORE(acc + 2 * c + co, r1[0] + r1[1] + r1[2]);                                            \
        STORE(acc + 3 * c + co, r1[1] - r1[2] - r1[3]);                                            \
    } while (0)
            for (; co + VW <= c; co += VW) OUTPUT_TILE(vd, vload, vstore);
            for (; co < c; co++) OUTPUT_TILE(double, sload, sstore);
#undef OUTPUT_TILE
            for (int q = 0; q < 4; q++) {
                const Py_ssize_t row = 2 * ty + q / 2, col = 2 * tx + q % 2;
                if (row >= e->h || col >= e->w) continue;
                const double *a = acc + q * c;
                /* DepthToSpace (DCR): channel g * oc + k goes to pixel (row*b + g/b, col*b + g%b). */
                for (Py_ssize_t g = 0; g < b * b; g++) {
                    const Py_ssize_t dst = ((row * b + g / b) * (e->w * b) + col * b + g % b) * oc, base = g * oc;
                    Py_ssize_t k = 0;
#if defined(__GNUC__)
                    for (; k + VW <= oc; k += VW)
                        store_vector(e->out, e->out_f64, dst + k, fast_vector(f, vload(a + base + k), base + k));
#endif
                    for (; k < oc; k++)
                        store_scalar(e->out, e->out_f64, dst + k, fast_scalar(f, a[base + k], base + k));
                }
            }
        }
}

static void run_job(Job *j) {
    if (j->kind == 0)
        if (j->f64)
            input_direct(j->src, j->v, j->h, j->w, j->c, j->group, j->ty0, j->ty1, j->scratch);
        else
            input_all(j->src, 0, j->v, j->h, j->w, j->c, j->group, j->ty0, j->ty1, j->scratch);
    else if (j->kind == 1)
        output_fast(j->src, j->e, j->f, j->ty0, j->ty1, j->scratch);
    else
        output_all(j->src, j->e, j->ty0, j->ty1, j->scratch);
}

/* output_transform(M, bias, shift, ops, out, h, w, block, mode[, threads]) -> None */
static PyObject *output_transform(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *objs[5];
    Py_ssize_t h, w, block;
    int mode, threads = 1;
    if (!PyArg_ParseTuple(args, "OOOOOnnni|i", &objs[0], &objs[1], &objs[2], &objs[3], &objs[4], &h, &w, &block,
                          &mode, &threads))
        return NULL;
    Py_buffer b[5];
    PyObject *result = NULL;
    int got = 0;
    for (; got < 5; got++)
        if (get_buffer(objs[got], &b[got], got == 4) < 0) goto release;
    const Py_ssize_t th = (h + 1) / 2, tw = (w + 1) / 2;
    const Py_ssize_t cout = b[0].ndim == 3 ? b[0].shape[2] : -1;
    int ok = h > 0 && w > 0 && block >= 1 && b[0].ndim == 3 && is_f64(&b[0]) && b[0].shape[1] == 16 &&
             b[0].shape[0] == th * tw && is_i64(&b[1]) && b[1].ndim == 1 && b[1].shape[0] == cout &&
             is_i64(&b[2]) && b[2].ndim == 1 && b[2].shape[0] == cout && is_i64(&b[3]) &&
             b[3].len % 16 == 0 && b[3].len / 16 <= MAX_OPS && (is_f64(&b[4]) || is_i64(&b[4])) &&
             b[4].ndim == 3 && cout % (block * block) == 0 && mode >= 0 && mode <= 2;
    if (ok)
        ok = b[4].shape[0] == h * block && b[4].shape[1] == w * block && b[4].shape[2] == cout / (block * block);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "_intconv.output_transform: malformed arguments");
        goto release;
    }
    Epilogue e = {b[1].buf, b[2].buf, b[3].buf, (int)(b[3].len / 16), h, w, cout, block,
                  cout / (block * block), mode == 2, is_f64(&b[4]), b[4].buf};
    const int nops = e.nops;
    const int n = thread_count(threads, th, th * tw * 16 * cout);
    const Py_ssize_t per = 4 * (cout ? cout : 1);
    /* The fast path's per-channel doubles, then each thread's acc (4 * cout int64 or double). */
    double *scratch = malloc((size_t)(3 * (cout ? cout : 1) + MAX_OPS + n * per) * sizeof(double));
    if (!scratch) {
        PyErr_NoMemory();
        goto release;
    }
    double *scale = scratch, *offset = scale + cout, *slope = offset + cout + cout;
    double *accs = slope + MAX_OPS;
    int64_t kinds[MAX_OPS];
    for (Py_ssize_t co = 0; co < cout; co++) {
        const int64_t sh = e.shift[co];
        const int exp = (int)(sh < -60 ? 60 : (sh > 60 ? -60 : -sh)); /* mode 0: |shift| <= 50 */
        scale[co] = ldexp(0.25, exp);
        offset[co] = ldexp((double)e.bias[co], exp) + (sh > 0 ? 0.5 : 0.0);
    }
    for (int i = 0; i < nops; i++) {
        kinds[i] = e.ops[2 * i];
        slope[i] = ldexp((double)e.ops[2 * i + 1], -16);
    }
    const int relu_first = nops > 0 && kinds[0] == OP_RELU;
    Fast f = {scale, offset, slope, kinds, nops, relu_first, relu_first ? 0.0 : -(double)LIMIT};
    const Job job = {mode == 0 ? 1 : 2, b[0].buf, 0, -1, NULL, h, w, cout, &e, &f, 0, 0, NULL};
    run_split(job, n, th, accs, per);
    free(scratch);
    Py_INCREF(Py_None);
    result = Py_None;
release:
    for (int i = 0; i < got; i++) PyBuffer_Release(&b[i]);
    return result;
}

static PyMethodDef methods[] = {
    {"input_transform", input_transform, METH_VARARGS, "Winograd F(2x2,3x3) input transform; see _intconv.c."},
    {"output_transform", output_transform, METH_VARARGS,
     "Winograd output transform fused with the integer layer's epilogue; see _intconv.c."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_intconv",
    "Exact Winograd transforms for tfcodec.entropy.integer_net (optional compiled path).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__intconv(void) { return PyModule_Create(&module); }
