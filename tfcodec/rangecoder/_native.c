/* The range coder's optional compiled path: TFC's coder, one stream after another, in C.
 *
 * The numpy coder in encode.py / decode.py is the reference and runs everywhere; this module
 * computes the same bytes and values (tests/test_rangecoder_native.py fuzzes the two against each
 * other), only faster where the codec's calls give numpy little to vectorise over: a channel-wise
 * slice is tens of streams, and a scalar loop in C codes a symbol in a few nanoseconds where a
 * lock-step numpy step pays microseconds of per-call overhead.
 *
 * The arithmetic is TFC's RangeEncoder / RangeDecoder / OverflowDecode (the same as
 * _encode_scalar and _decode_scalar in Python): a 32-bit (base, size - 1) state with 16-bit
 * renormalisation, the "delay" state for digits a carry may still change, the Elias-gamma escape
 * codes of rows with negative precision, and TFC's finalize. CDFs come already rescaled to 16 bits
 * (Lookup._cdf16), so no row needs a shift.
 *
 * Nothing here validates what Python validated already (row numbers in range, stream lengths,
 * table layout); what only the coding loop can see comes back as a status, and Python words the
 * error (or, for the encoder, reruns the numpy path, which raises the same error it always did).
 * The GIL is released while coding, so threads coding different images use every core.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MASK32 0xFFFFFFFFull
#define ONE16 0x10000ull
#define GAMMA_LIMIT (1ll << 30)
#define GAMMA_MAX_ZEROS 29

/* Encoder statuses (the lane and step come back with them). */
enum { ENC_OK = 0, ENC_BAD_VALUE = 1, ENC_ZERO_PROBABILITY = 2, ENC_GAMMA_TOO_LARGE = 3, ENC_NO_MEMORY = 4 };
/* Decoder statuses. */
enum { DEC_OK = 0, DEC_ESCAPE_TOO_LONG = 1, DEC_ESCAPE_OUT_OF_INT32 = 2, DEC_FINAL_STATE = 3 };

typedef struct {
    const uint32_t *cdf;   /* every row's CDF, 16-bit scale, back to back */
    const int64_t *start;  /* row r's CDF is cdf[start[r] .. start[r] + nsym[r]] */
    const int64_t *nsym;
    const uint8_t *overflow;
    const int32_t *bucket; /* row r, bucket b: the first k with cdf[k] >= 256 * b + 1 */
} Table;

/* The decoder's first guess: the 16-bit target t in [1, 2**16] falls in bucket (t - 1) >> 8 of
 * its row, and the bucket table gives the first CDF entry that could be >= t. From there a short
 * forward scan finds it: a bucket spans 1/256 of the probability, so a symbol that needs many
 * steps is one of many narrow ones in a tail, which is rarely coded. */
#define BUCKET_BITS 8

/* A 2-D integer array (lanes, steps) as the buffer protocol hands it over: any strides, int32 or int64. */
typedef struct {
    const char *data;
    Py_ssize_t lane_stride, step_stride;
    int wide;
} IntMatrix;

static inline int64_t matrix_at(const IntMatrix *m, Py_ssize_t lane, Py_ssize_t step) {
    const char *p = m->data + lane * m->lane_stride + step * m->step_stride;
    return m->wide ? *(const int64_t *)p : (int64_t)*(const int32_t *)p;
}

/* ---- encoder ------------------------------------------------------------------------------- */

typedef struct {
    unsigned char *data;
    size_t len, cap;
} Sink;

static int sink_reserve(Sink *s, size_t extra) {
    if (s->len + extra <= s->cap) return 0;
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < s->len + extra) cap *= 2;
    unsigned char *grown = realloc(s->data, cap);
    if (!grown) return -1;
    s->data = grown;
    s->cap = cap;
    return 0;
}

/* One interval [lo, hi) / 2**16 (TFC RangeEncoder::Encode), on the caller's local state: bytes
 * go to `out`, which has room (a lane reserves 3 bytes per step ahead: every digit, withheld or
 * not, belongs to one step, and a withheld run ending in a carry adds at most one byte to the
 * two or more steps it spans). A macro rather than a function taking pointers, so that the state
 * stays in registers: a store through an unsigned char pointer may alias anything, and would
 * make the compiler reload the state from memory after every byte. */
#define ENCODE_INTERVAL(LO, HI)                                                          \
    do {                                                                                 \
        const uint64_t size_ = sm1 + 1;                                                  \
        const uint64_t a_ = (size_ * (uint64_t)(LO)) >> 16;                              \
        const uint64_t b_ = ((size_ * (uint64_t)(HI)) >> 16) - 1;                        \
        base += a_;                                                                      \
        const int carry_ = base > MASK32;                                                \
        base &= MASK32;                                                                  \
        sm1 = b_ - a_;                                                                   \
        if (base + sm1 > MASK32) { /* straddles 2**32: withhold the digits */            \
            if (sm1 < ONE16) {                                                           \
                base = (base << 16) & MASK32;                                            \
                sm1 = (sm1 << 16) | 0xFFFF;                                              \
                delay += 0x20000;                                                        \
            }                                                                            \
            break;                                                                       \
        }                                                                                \
        if (delay) {                                                                     \
            uint64_t d_ = delay;                                                         \
            unsigned char fill_ = 0;                                                     \
            if (!carry_) {                                                               \
                d_ -= 1;                                                                 \
                fill_ = 0xFF;                                                            \
            }                                                                            \
            const size_t run_ = (size_t)(d_ >> 16); /* after the decrement, as TFC */    \
            out[0] = (unsigned char)((d_ >> 8) & 0xFF);                                  \
            out[1] = (unsigned char)(d_ & 0xFF);                                         \
            memset(out + 2, fill_, run_);                                                \
            out += 2 + run_;                                                             \
            delay = 0;                                                                   \
        }                                                                                \
        if (sm1 < ONE16) {                                                               \
            const uint64_t top_ = base >> 16;                                            \
            base = (base << 16) & MASK32;                                                \
            sm1 = (sm1 << 16) | 0xFFFF;                                                  \
            if (base + sm1 <= MASK32) {                                                  \
                out[0] = (unsigned char)(top_ >> 8);                                     \
                out[1] = (unsigned char)(top_ & 0xFF);                                   \
                out += 2;                                                                \
            } else {                                                                     \
                delay = top_ + 1;                                                        \
            }                                                                            \
        }                                                                                \
    } while (0)

static int bit_length(int64_t x) {
    int n = 0;
    while (x) {
        n++;
        x >>= 1;
    }
    return n;
}

/* An escape's Elias-gamma bits: at most 2 * 30 + 1 binary steps. */
#define ESCAPE_STEPS 61

/* Codes every lane; fills lengths[lane]. On failure sets *bad_lane, *bad_step. */
static int encode_lanes(const Table *t, const IntMatrix *idx, const IntMatrix *val, Py_ssize_t lanes,
                        Py_ssize_t steps, Sink *sink, int64_t *lengths, Py_ssize_t *bad_lane,
                        Py_ssize_t *bad_step) {
    for (Py_ssize_t lane = 0; lane < lanes; lane++) {
        /* Room for 3 bytes a step and the finalize; an escape reserves for its bits. */
        const size_t room = 3 * (size_t)steps + 8;
        if (sink_reserve(sink, room)) return ENC_NO_MEMORY;
        const size_t begin = sink->len;
        unsigned char *out = sink->data + sink->len;
        uint64_t base = 0, sm1 = MASK32, delay = 0;
        const char *ip = idx->data + lane * idx->lane_stride;
        const char *vp = val->data + lane * val->lane_stride;
        for (Py_ssize_t j = 0; j < steps; j++, ip += idx->step_stride, vp += val->step_stride) {
            const int64_t row = idx->wide ? *(const int64_t *)ip : (int64_t)*(const int32_t *)ip;
            int64_t v = val->wide ? *(const int64_t *)vp : (int64_t)*(const int32_t *)vp;
            const int64_t n = t->nsym[row];
            int escape = 0;
            int64_t gamma = 0;
            if (t->overflow[row]) {
                const int64_t maxv = n - 1;
                if (v < 0 || v >= maxv) {
                    gamma = v < 0 ? -v : v - maxv + 1;
                    if (gamma >= GAMMA_LIMIT) {
                        *bad_lane = lane;
                        *bad_step = j;
                        return ENC_GAMMA_TOO_LARGE;
                    }
                    escape = v < 0 ? 2 : 1; /* 2: negative */
                    v = maxv;
                }
            } else if (v < 0 || v >= n) {
                *bad_lane = lane;
                *bad_step = j;
                return ENC_BAD_VALUE;
            }
            const uint32_t *c = t->cdf + t->start[row] + v;
            if (c[0] == c[1]) {
                *bad_lane = lane;
                *bad_step = j;
                return ENC_ZERO_PROBABILITY;
            }
            ENCODE_INTERVAL(c[0], c[1]);
            if (escape) {
                /* Elias gamma, binary uniform bits (precision 1): n - 1 zeros, the n bits of
                 * gamma from the top, then the sign. First make room for their digits. */
                sink->len = (size_t)(out - sink->data);
                if (sink_reserve(sink, 3 * ESCAPE_STEPS + room)) return ENC_NO_MEMORY;
                out = sink->data + sink->len;
                const int nbits = bit_length(gamma);
                for (int k = 0; k < nbits - 1; k++) ENCODE_INTERVAL(0, 1u << 15);
                for (int k = nbits - 1; k >= 0; k--) {
                    const uint64_t bit = (uint64_t)((gamma >> k) & 1);
                    ENCODE_INTERVAL(bit << 15, (bit + 1) << 15);
                }
                const uint64_t sign = escape == 2;
                ENCODE_INTERVAL(sign << 15, (sign + 1) << 15);
            }
        }
        /* TFC RangeEncoder::Finalize. */
        if (delay) {
            *out++ = (unsigned char)((delay >> 8) & 0xFF);
            if (delay & 0xFF) *out++ = (unsigned char)(delay & 0xFF);
        } else if (base) {
            const uint64_t upper = base + sm1;
            uint64_t mid = ((base - 1) >> 24) + 1;
            if (mid <= (upper >> 24)) {
                *out++ = (unsigned char)mid;
            } else {
                mid = ((base - 1) >> 16) + 1;
                *out++ = (unsigned char)(mid >> 8);
                if (mid & 0xFF) *out++ = (unsigned char)(mid & 0xFF);
            }
        }
        sink->len = (size_t)(out - sink->data);
        lengths[lane] = (int64_t)(sink->len - begin);
    }
    return ENC_OK;
}

/* ---- decoder ------------------------------------------------------------------------------- */

typedef struct {
    uint64_t base, sm1, value;
    const unsigned char *src;
    Py_ssize_t n, pos;
} DecoderState;

static inline void decoder_renormalize(DecoderState *d, uint64_t base, uint64_t sm1) {
    if (sm1 < ONE16) {
        const Py_ssize_t pos = d->pos;
        uint64_t word = 0;
        if (pos < d->n) word = ((uint64_t)d->src[pos] << 8) | (pos + 1 < d->n ? d->src[pos + 1] : 0);
        d->value = ((d->value << 16) & MASK32) | word;
        d->pos = pos + 2;
        base = (base << 16) & MASK32;
        sm1 = (sm1 << 16) | 0xFFFF;
    }
    d->base = base;
    d->sm1 = sm1;
}

/* One symbol of row `row` (TFC RangeDecoder::Decode): TFC's smallest k >= 1 with cdf[k] >= t. */
static inline int64_t decode_symbol(DecoderState *d, const Table *t, int64_t row) {
    const uint32_t *cdf = t->cdf + t->start[row];
    const uint64_t size = d->sm1 + 1;
    const uint64_t offset = (d->value - d->base) & MASK32;
    /* offset < size holds for any input bytes, so 1 <= target <= 2**16 = cdf[nsym]: the scan
     * stops inside the row. */
    const uint64_t target = (((offset + 1) << 16) + size - 1) / size;
    int64_t k = t->bucket[(row << BUCKET_BITS) + ((target - 1) >> (16 - BUCKET_BITS))];
    while (cdf[k] < target) k++;
    const uint64_t a = (size * cdf[k - 1]) >> 16;
    const uint64_t b = ((size * cdf[k]) >> 16) - 1;
    decoder_renormalize(d, (d->base + a) & MASK32, b - a);
    return k - 1;
}

/* TFC's DecodeLinearly({0, 1, 2}, precision=1): one escape bit. */
static inline int decode_bit(DecoderState *d) {
    const uint64_t size = d->sm1 + 1;
    const uint64_t half = size >> 1;
    if (((d->value - d->base) & MASK32) >= half) {
        decoder_renormalize(d, (d->base + half) & MASK32, size - half - 1);
        return 1;
    }
    decoder_renormalize(d, d->base, half - 1);
    return 0;
}

/* TFC RangeDecoder::Finalize: all bytes read, and the last 32 bits the ones the encoder wrote. */
static int decoder_finalize_ok(const DecoderState *d) {
    if (d->pos < d->n) return 0;
    const uint64_t upper = (d->base + d->sm1) & MASK32;
    if (d->base == 0 || upper < d->base) return d->value == 0;
    const int shift = (((d->base - 1) >> 24) < (upper >> 24)) ? 24 : 16;
    const uint64_t mid = ((d->base - 1) >> shift) + 1;
    return ((mid << shift) & MASK32) == d->value;
}

typedef struct {
    char *data;
    Py_ssize_t lane_stride, step_stride;
} OutMatrix;

static int decode_lanes(const Table *t, const IntMatrix *idx, Py_ssize_t lanes, Py_ssize_t steps,
                        const unsigned char *data, const int64_t *lengths, OutMatrix *out,
                        Py_ssize_t *bad_lane) {
    const unsigned char *src = data;
    for (Py_ssize_t lane = 0; lane < lanes; lane++) {
        DecoderState d;
        d.src = src;
        d.n = (Py_ssize_t)lengths[lane];
        d.base = 0;
        d.sm1 = MASK32;
        d.value = 0;
        for (int k = 0; k < 4; k++) d.value = (d.value << 8) | (k < d.n ? src[k] : 0);
        d.pos = 4;
        for (Py_ssize_t j = 0; j < steps; j++) {
            const int64_t row = matrix_at(idx, lane, j);
            const int64_t n = t->nsym[row];
            int64_t sym = decode_symbol(&d, t, row);
            if (t->overflow[row] && sym == n - 1) {
                int zeros = 0;
                while (decode_bit(&d) == 0) {
                    if (++zeros > GAMMA_MAX_ZEROS) {
                        *bad_lane = lane;
                        return DEC_ESCAPE_TOO_LONG;
                    }
                }
                int64_t v = 1ll << zeros;
                for (int k = zeros - 1; k >= 0; k--) v |= (int64_t)decode_bit(&d) << k;
                if (decode_bit(&d)) {
                    sym = -v;
                } else {
                    sym = v + n - 2;
                    if (sym > INT32_MAX) {
                        *bad_lane = lane;
                        return DEC_ESCAPE_OUT_OF_INT32;
                    }
                }
            }
            *(int32_t *)(out->data + lane * out->lane_stride + j * out->step_stride) = (int32_t)sym;
        }
        if (!decoder_finalize_ok(&d)) {
            *bad_lane = lane;
            return DEC_FINAL_STATE;
        }
        src += d.n;
    }
    return DEC_OK;
}

/* ---- Python glue --------------------------------------------------------------------------- */

static int get_buffer(PyObject *obj, Py_buffer *view, int writable) {
    return PyObject_GetBuffer(obj, view, (writable ? PyBUF_WRITABLE : 0) | PyBUF_RECORDS_RO);
}

#define TABLE_ARRAYS 5

static int table_from(Py_buffer *b, Table *t) {
    /* b[0..4]: cdf (uint32), start (int64), nsym (int64), overflow (uint8), bucket (int32, rows
     * * 2**BUCKET_BITS), all contiguous 1-D. */
    const Py_ssize_t sizes[TABLE_ARRAYS] = {4, 8, 8, 1, 4};
    for (int i = 0; i < TABLE_ARRAYS; i++) {
        if (b[i].ndim != 1 || b[i].itemsize != sizes[i] ||
            (b[i].strides && b[i].strides[0] != sizes[i])) {
            PyErr_SetString(PyExc_ValueError, "native range coder: malformed table arrays");
            return -1;
        }
    }
    if (b[1].shape[0] != b[2].shape[0] || b[1].shape[0] != b[3].shape[0] ||
        b[4].shape[0] != (b[1].shape[0] << BUCKET_BITS)) {
        PyErr_SetString(PyExc_ValueError, "native range coder: table arrays disagree in rows");
        return -1;
    }
    t->cdf = b[0].buf;
    t->start = b[1].buf;
    t->nsym = b[2].buf;
    t->overflow = b[3].buf;
    t->bucket = b[4].buf;
    return 0;
}

static int matrix_from(Py_buffer *b, IntMatrix *m, Py_ssize_t *lanes, Py_ssize_t *steps) {
    const char f = b->format ? b->format[0] : 'B';
    const int int32 = b->itemsize == 4 && (f == 'i' || f == 'l');
    const int int64 = b->itemsize == 8 && (f == 'l' || f == 'q');
    if (b->ndim != 2 || !(int32 || int64)) {
        PyErr_SetString(PyExc_ValueError, "native range coder: index and value must be 2-D int32 or int64");
        return -1;
    }
    m->data = b->buf;
    m->lane_stride = b->strides[0];
    m->step_stride = b->strides[1];
    m->wide = int64;
    *lanes = b->shape[0];
    *steps = b->shape[1];
    return 0;
}

static void release_all(Py_buffer *b, int n) {
    for (int i = 0; i < n; i++) PyBuffer_Release(&b[i]);
}

/* encode(cdf, start, nsym, overflow, bucket, index, value) -> (status, data, lengths, lane, step)
 * index and value: [lanes, steps]. data: bytes of every lane's string back to back; lengths: a
 * bytes of int64 per lane. status != 0: (status, None, None, lane, step) of the first failure. */
static PyObject *native_encode(PyObject *self, PyObject *args) {
    (void)self;
    enum { N = TABLE_ARRAYS + 2 };
    PyObject *objs[N];
    if (!PyArg_ParseTuple(args, "OOOOOOO", &objs[0], &objs[1], &objs[2], &objs[3], &objs[4], &objs[5], &objs[6]))
        return NULL;
    Py_buffer b[N];
    int got = 0;
    for (; got < N; got++)
        if (get_buffer(objs[got], &b[got], 0) < 0) {
            release_all(b, got);
            return NULL;
        }
    Table t;
    IntMatrix idx, val;
    Py_ssize_t lanes, steps, lanes2, steps2;
    if (table_from(b, &t) < 0 || matrix_from(&b[TABLE_ARRAYS], &idx, &lanes, &steps) < 0 ||
        matrix_from(&b[TABLE_ARRAYS + 1], &val, &lanes2, &steps2) < 0) {
        release_all(b, N);
        return NULL;
    }
    if (lanes != lanes2 || steps != steps2) {
        release_all(b, N);
        PyErr_SetString(PyExc_ValueError, "native range coder: index and value shapes differ");
        return NULL;
    }
    int64_t *lengths = calloc((size_t)(lanes ? lanes : 1), sizeof(int64_t));
    Sink sink = {NULL, 0, 0};
    Py_ssize_t bad_lane = -1, bad_step = -1;
    int status = ENC_NO_MEMORY;
    if (lengths && sink_reserve(&sink, (size_t)(lanes * (steps / 4 + 8))) == 0) {
        Py_BEGIN_ALLOW_THREADS
        status = encode_lanes(&t, &idx, &val, lanes, steps, &sink, lengths, &bad_lane, &bad_step);
        Py_END_ALLOW_THREADS
    }
    release_all(b, N);
    PyObject *result = NULL;
    if (status == ENC_NO_MEMORY) {
        PyErr_NoMemory();
    } else if (status != ENC_OK) {
        result = Py_BuildValue("iOOnn", status, Py_None, Py_None, bad_lane, bad_step);
    } else {
        PyObject *data = PyBytes_FromStringAndSize((const char *)sink.data, (Py_ssize_t)sink.len);
        PyObject *lens = PyBytes_FromStringAndSize((const char *)lengths, (Py_ssize_t)(lanes * sizeof(int64_t)));
        if (data && lens) result = Py_BuildValue("iOOnn", ENC_OK, data, lens, (Py_ssize_t)-1, (Py_ssize_t)-1);
        Py_XDECREF(data);
        Py_XDECREF(lens);
    }
    free(sink.data);
    free(lengths);
    return result;
}

/* decode(cdf, start, nsym, overflow, bucket, index, data, lengths, out) -> (status, lane)
 * index: [lanes, steps]; data: the strings back to back; lengths: int64 per lane (Python checked
 * that they add up to len(data)); out: writable int32 [lanes, steps]. */
static PyObject *native_decode(PyObject *self, PyObject *args) {
    (void)self;
    enum { N = TABLE_ARRAYS + 4, INDEX = TABLE_ARRAYS, DATA, LENGTHS, OUT };
    PyObject *objs[N];
    if (!PyArg_ParseTuple(args, "OOOOOOOOO", &objs[0], &objs[1], &objs[2], &objs[3], &objs[4], &objs[5],
                          &objs[6], &objs[7], &objs[8]))
        return NULL;
    Py_buffer b[N];
    int got = 0;
    for (; got < N; got++)
        if (get_buffer(objs[got], &b[got], got == OUT) < 0) {
            release_all(b, got);
            return NULL;
        }
    Table t;
    IntMatrix idx;
    Py_ssize_t lanes, steps;
    if (table_from(b, &t) < 0 || matrix_from(&b[INDEX], &idx, &lanes, &steps) < 0) {
        release_all(b, N);
        return NULL;
    }
    int64_t total = 0;
    int ok = b[LENGTHS].itemsize == 8 && b[LENGTHS].ndim == 1 && b[LENGTHS].shape[0] == lanes &&
             b[OUT].itemsize == 4 && b[OUT].ndim == 2 && b[OUT].shape[0] == lanes && b[OUT].shape[1] == steps;
    if (ok)
        for (Py_ssize_t i = 0; i < lanes; i++) {
            const int64_t len = ((const int64_t *)b[LENGTHS].buf)[i];
            if (len < 0) ok = 0;
            total += len;
        }
    if (!ok || total != b[DATA].len) {
        release_all(b, N);
        PyErr_SetString(PyExc_ValueError, "native range coder: malformed decode arguments");
        return NULL;
    }
    OutMatrix out = {b[OUT].buf, b[OUT].strides[0], b[OUT].strides[1]};
    Py_ssize_t bad_lane = -1;
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = decode_lanes(&t, &idx, lanes, steps, b[DATA].buf, b[LENGTHS].buf, &out, &bad_lane);
    Py_END_ALLOW_THREADS
    release_all(b, N);
    return Py_BuildValue("in", status, bad_lane);
}

static PyMethodDef methods[] = {
    {"encode", native_encode, METH_VARARGS, "Range-code lanes of (row, value) pairs; see _native.c."},
    {"decode", native_decode, METH_VARARGS, "Range-decode lanes into an int32 array; see _native.c."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native",
    "TFC's range coder in C, byte-identical to tfcodec.rangecoder's numpy coder.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
