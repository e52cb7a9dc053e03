/* The compiled raw walk of chain/scanner.py: the same events from the same block bytes, faster.
 *
 * The pure-Python walk in scanner.py is the reference and the fallback; tests/test_scan_core.py
 * checks that both yield identical events, leave identical unspent outputs and raise identical
 * errors. Like it, this walk parses offsets only and hashes a transaction only when it touches
 * the watch set (an output paying a watched script, an input spending a watched outpoint).
 *
 * Where the time goes, and so the design: nearly every output and input is a miss, answered by a
 * Bloom filter that stays in cache; hits cost cache misses on Python objects, so the watched
 * unspent outputs live here (a Walker is also the Scanner's outpoint -> Credit mapping, with
 * the outpoints inline) rather than in a dict keyed by bytes objects.
 *
 * Safety: every read goes through the Cursor functions, which check the bytes are there first.
 * A block that runs past its end, or has bytes after its transactions, raises the scanner's
 * CodecError with the pure walk's wording, and the unspent outputs are put back as they were
 * before the block (a journal of the block's changes is undone).
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define OUTPOINT_SIZE 36 /* txid, then the output index as LE32 */
#define TXID_SIZE 32
#define HEADER_SIZE 80

typedef enum { WALK_OK = 0, WALK_TRUNCATED = 1, WALK_PYERR = 2 } WalkStatus;

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(address) __builtin_prefetch(address)
#else
#define PREFETCH(address) ((void)(address))
#endif

/* --- reading the wire, bounds checked ------------------------------------------------- */

typedef struct {
    const uint8_t *data;
    Py_ssize_t size;
    Py_ssize_t pos;
} Cursor;

static inline int has(const Cursor *c, uint64_t n) { return (uint64_t)(c->size - c->pos) >= n; }

static inline WalkStatus skip(Cursor *c, uint64_t n) {
    if (!has(c, n)) return WALK_TRUNCATED;
    c->pos += (Py_ssize_t)n;
    return WALK_OK;
}

static inline uint64_t load_le(const uint8_t *p, int width) {
    uint64_t v = 0;
    for (int i = width - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static inline WalkStatus read_le(Cursor *c, int width, uint64_t *out) {
    if (!has(c, (uint64_t)width)) return WALK_TRUNCATED;
    *out = load_le(c->data + c->pos, width);
    c->pos += width;
    return WALK_OK;
}

/* A CompactSize in any of its four forms; non-canonical forms are read, as the pure walk does. */
static inline WalkStatus read_compact_size(Cursor *c, uint64_t *out) {
    if (!has(c, 1)) return WALK_TRUNCATED;
    uint8_t first = c->data[c->pos++];
    if (first < 0xFD) {
        *out = first;
        return WALK_OK;
    }
    return read_le(c, first == 0xFD ? 2 : first == 0xFE ? 4 : 8, out);
}

/* --- SHA-256d of touched transactions ------------------------------------------------------
 *
 * Only transactions that touch the watch set are hashed, but at 100,000 watched scripts that
 * is one in five: a call back into hashlib per transaction (two hash objects, two digests) cost
 * more than the whole walk. FIPS 180-4, with the x86 SHA extensions when the CPU has them. */

static const uint32_t SHA256_K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};
static const uint32_t SHA256_INIT[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

static inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
static inline uint32_t load_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void sha256_blocks_portable(uint32_t state[8], const uint8_t *chunk, size_t blocks) {
    for (; blocks; blocks--, chunk += 64) {
        uint32_t w[64], v[8];
        for (int i = 0; i < 16; i++) w[i] = load_be32(chunk + 4 * i);
        for (int i = 16; i < 64; i++) {
            uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
            uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        memcpy(v, state, sizeof(v));
        for (int i = 0; i < 64; i++) {
            uint32_t t1 = v[7] + (rotr(v[4], 6) ^ rotr(v[4], 11) ^ rotr(v[4], 25)) + ((v[4] & v[5]) ^ (~v[4] & v[6])) +
                          SHA256_K[i] + w[i];
            uint32_t t2 = (rotr(v[0], 2) ^ rotr(v[0], 13) ^ rotr(v[0], 22)) + ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
            memmove(v + 1, v, 7 * sizeof(uint32_t));
            v[4] += t1;
            v[0] = t1 + t2;
        }
        for (int i = 0; i < 8; i++) state[i] += v[i];
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_SHA_NI_CODE 1

/* The state as the SHA instructions want it (ABEF, CDGH), round by round as in Intel's paper
 * "New Instructions Supporting the Secure Hash Algorithm on Intel Architecture Processors". */
__attribute__((target("sha,sse4.1,ssse3"))) static void sha256_blocks_sha_ni(uint32_t state[8], const uint8_t *chunk,
                                                                            size_t blocks) {
    const __m128i byte_swap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
    __m128i t1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)state), 0xB1);       /* b a d c */
    __m128i t2 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(state + 4)), 0x1B); /* h g f e */
    __m128i abef = _mm_alignr_epi8(t1, t2, 8), cdgh = _mm_blend_epi16(t2, t1, 0xF0);
    for (; blocks; blocks--, chunk += 64) {
        __m128i abef_before = abef, cdgh_before = cdgh, m[4];
        for (int quad = 0; quad < 16; quad++) {
            __m128i *w = &m[quad % 4];
            if (quad < 4) *w = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(chunk + 16 * quad)), byte_swap);
            __m128i msg = _mm_add_epi32(*w, _mm_loadu_si128((const __m128i *)(SHA256_K + 4 * quad)));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, msg);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(msg, 0x0E));
            /* The message schedule four words ahead: msg2 completes m[quad+1], msg1 starts m[quad+3]. */
            __m128i *next = &m[(quad + 1) % 4], *prev = &m[(quad + 3) % 4];
            if (quad >= 3 && quad <= 14)
                *next = _mm_sha256msg2_epu32(_mm_add_epi32(*next, _mm_alignr_epi8(*w, *prev, 4)), *w);
            if (quad >= 1 && quad <= 12) *prev = _mm_sha256msg1_epu32(*prev, *w);
        }
        abef = _mm_add_epi32(abef, abef_before);
        cdgh = _mm_add_epi32(cdgh, cdgh_before);
    }
    t1 = _mm_shuffle_epi32(abef, 0x1B); /* a b e f */
    t2 = _mm_shuffle_epi32(cdgh, 0xB1); /* g h c d */
    _mm_storeu_si128((__m128i *)state, _mm_blend_epi16(t1, t2, 0xF0));
    _mm_storeu_si128((__m128i *)(state + 4), _mm_alignr_epi8(t2, t1, 8));
}

static int cpu_has_sha_ni(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSE4_1) || !(c & bit_SSSE3)) return 0;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29));
}
#endif

typedef void (*Sha256Blocks)(uint32_t state[8], const uint8_t *chunk, size_t blocks);
static Sha256Blocks sha256_blocks = sha256_blocks_portable;

static void sha256(const uint8_t *data, size_t size, uint8_t digest[32]) {
    uint32_t state[8];
    memcpy(state, SHA256_INIT, sizeof(state));
    size_t whole = size / 64, rest = size % 64;
    sha256_blocks(state, data, whole);
    uint8_t tail[128] = {0};
    memcpy(tail, data + 64 * whole, rest);
    tail[rest] = 0x80;
    size_t tail_size = rest + 9 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)size * 8;
    for (int i = 0; i < 8; i++) tail[tail_size - 1 - i] = (uint8_t)(bits >> (8 * i));
    sha256_blocks(state, tail, tail_size / 64);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++) digest[4 * i + j] = (uint8_t)(state[i] >> (24 - 8 * j));
}

static void sha256d(const uint8_t *data, size_t size, uint8_t digest[32]) {
    uint8_t once[32];
    sha256(data, size, once);
    sha256(once, sizeof(once), digest);
}

/* --- hashing and the Bloom filter in front of both tables ------------------------------------ */

static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    return x;
}

static inline uint64_t script_hash(const uint8_t *p, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        h = (h ^ word) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 31;
        p += 8;
        n -= 8;
    }
    uint64_t tail = 0;
    memcpy(&tail, p, n);
    return mix64((h ^ tail) * 0x94d049bb133111ebULL);
}

/* A txid is already uniform: its first eight bytes and the output index are enough. */
static inline uint64_t outpoint_hash(const uint8_t *outpoint) {
    uint64_t head;
    memcpy(&head, outpoint, 8);
    return mix64(head ^ (load_le(outpoint + TXID_SIZE, 4) * 0x9E3779B97F4A7C15ULL));
}

static inline uint32_t fingerprint(uint64_t h) { return (uint32_t)(h >> 32) | 1u; } /* 0 marks a free slot */

/* Two bits in one 64-bit word per key, 16 bits a table slot: a lookup costs one cached word. */
typedef struct {
    uint64_t *words;
    size_t mask; /* word count - 1 */
} Bloom;

static inline uint64_t bloom_bits(uint64_t h) {
    uint64_t g = h * 0xff51afd7ed558ccdULL;
    return (1ULL << (g >> 58)) | (1ULL << ((g >> 52) & 63));
}

static inline int bloom_maybe(const Bloom *b, uint64_t h) {
    uint64_t bits = bloom_bits(h);
    return (b->words[(h >> 12) & b->mask] & bits) == bits;
}

static inline void bloom_add(Bloom *b, uint64_t h) { b->words[(h >> 12) & b->mask] |= bloom_bits(h); }

static size_t slot_count_for(size_t expected) {
    size_t slots = 64;
    while (slots < 2 * expected + 2) slots <<= 1;
    return slots;
}

/* --- the watched scripts -------------------------------------------------------------------- */

/* Open addressing with linear probing. A slot is one cache line: the
 * fingerprint, and the script itself when it is short (every standard one is), so that a match
 * costs one memory access and never touches the watch set's object; a longer script is compared
 * through a strong reference to it. */
#define INLINE_SCRIPT_SIZE 51

typedef struct {
    uint32_t fingerprint;
    uint8_t size; /* of `inline_bytes`, when the script is held inline */
    uint8_t inline_bytes[INLINE_SCRIPT_SIZE];
    PyObject *script; /* a script longer than INLINE_SCRIPT_SIZE; else NULL */
} ScriptSlot;

typedef struct {
    Bloom bloom;
    void *allocation; /* `slots` is this, aligned to a cache line */
    ScriptSlot *slots;
    size_t mask; /* slot count - 1 */
    size_t used;
} ScriptTable;

static void scripts_free(ScriptTable *t) {
    for (size_t i = 0; t->slots != NULL && i <= t->mask; i++) Py_XDECREF(t->slots[i].script);
    PyMem_Free(t->allocation);
    PyMem_Free(t->bloom.words);
    memset(t, 0, sizeof(*t));
}

/* At most half full: each step of a probe is another cache line. */
static int scripts_reset(ScriptTable *t, size_t expected) {
    scripts_free(t);
    size_t slots = slot_count_for(expected), words = slots / 4;
    t->allocation = PyMem_Calloc(slots + 1, sizeof(ScriptSlot));
    t->bloom.words = PyMem_Calloc(words, sizeof(uint64_t));
    if (t->allocation == NULL || t->bloom.words == NULL) {
        scripts_free(t);
        PyErr_NoMemory();
        return -1;
    }
    t->slots = (ScriptSlot *)(((uintptr_t)t->allocation + 63) & ~(uintptr_t)63);
    t->mask = slots - 1;
    t->bloom.mask = words - 1;
    return 0;
}

static inline int scripts_full(const ScriptTable *t) { return 2 * (t->used + 1) > t->mask + 1; }

static inline int slot_holds(const ScriptSlot *slot, const uint8_t *p, size_t n) {
    if (slot->script == NULL) return slot->size == n && memcmp(slot->inline_bytes, p, n) == 0;
    return (size_t)PyBytes_GET_SIZE(slot->script) == n && memcmp(PyBytes_AS_STRING(slot->script), p, n) == 0;
}

/* Whether p[0:n] (hashed to h) is a watched script. */
static inline int scripts_has(const ScriptTable *t, const uint8_t *p, size_t n, uint64_t h) {
    if (!bloom_maybe(&t->bloom, h)) return 0;
    uint32_t fp = fingerprint(h);
    for (size_t i = (size_t)h & t->mask;; i = (i + 1) & t->mask) {
        const ScriptSlot *slot = &t->slots[i];
        if (slot->fingerprint == 0) return 0;
        if (slot->fingerprint == fp && slot_holds(slot, p, n)) return 1;
    }
}

/* Adds a bytes object hashed to h; the table was sized for all of them (scripts_reset). */
static void scripts_add_hashed(ScriptTable *t, PyObject *script, uint64_t h) {
    const uint8_t *p = (const uint8_t *)PyBytes_AS_STRING(script);
    size_t n = (size_t)PyBytes_GET_SIZE(script);
    if (scripts_has(t, p, n, h)) return;
    bloom_add(&t->bloom, h);
    size_t i = (size_t)h & t->mask;
    while (t->slots[i].fingerprint != 0) i = (i + 1) & t->mask;
    ScriptSlot *slot = &t->slots[i];
    slot->fingerprint = fingerprint(h);
    if (n <= INLINE_SCRIPT_SIZE) {
        slot->size = (uint8_t)n;
        memcpy(slot->inline_bytes, p, n);
    } else {
        slot->script = Py_NewRef(script);
    }
    t->used++;
}

static void scripts_add(ScriptTable *t, PyObject *script) {
    scripts_add_hashed(t, script, script_hash((const uint8_t *)PyBytes_AS_STRING(script),
                                              (size_t)PyBytes_GET_SIZE(script)));
}

/* --- the watched unspent outputs: outpoint -> Credit, in the order a dict would keep ---------- */

typedef struct {
    uint8_t outpoint[OUTPOINT_SIZE];
    uint32_t fingerprint; /* 0: never used */
    PyObject *credit;     /* NULL: free, or removed (the fingerprint stays so probe chains hold) */
    uint64_t order;       /* when the outpoint was added */
} Coin;

typedef struct {
    Bloom bloom;
    Coin *slots;
    size_t mask;         /* slot count - 1 */
    size_t used;         /* slots with a fingerprint, removed ones included */
    size_t live;         /* slots with a credit */
    uint64_t next_order; /* a dict puts a new key last, and keeps a replaced key's place */
} CoinMap;

static void coins_free(CoinMap *m) {
    for (size_t i = 0; m->slots != NULL && i <= m->mask; i++) Py_XDECREF(m->slots[i].credit);
    PyMem_Free(m->slots);
    PyMem_Free(m->bloom.words);
    m->slots = NULL;
    m->bloom.words = NULL;
    m->mask = m->used = m->live = 0;
}

static int coins_alloc(CoinMap *m, size_t expected) {
    size_t slots = slot_count_for(expected);
    m->slots = PyMem_Calloc(slots, sizeof(Coin));
    m->bloom.words = PyMem_Calloc(slots / 4, sizeof(uint64_t));
    if (m->slots == NULL || m->bloom.words == NULL) {
        PyMem_Free(m->slots);
        PyMem_Free(m->bloom.words);
        m->slots = NULL;
        m->bloom.words = NULL;
        PyErr_NoMemory();
        return -1;
    }
    m->mask = slots - 1;
    m->bloom.mask = slots / 4 - 1;
    m->used = m->live = 0;
    return 0;
}

static inline Py_ssize_t coins_find(const CoinMap *m, const uint8_t *outpoint) {
    if (m->live == 0) return -1;
    uint64_t h = outpoint_hash(outpoint);
    if (!bloom_maybe(&m->bloom, h)) return -1;
    uint32_t fp = fingerprint(h);
    for (size_t i = (size_t)h & m->mask;; i = (i + 1) & m->mask) {
        const Coin *coin = &m->slots[i];
        if (coin->fingerprint == 0) return -1;
        if (coin->fingerprint == fp && coin->credit != NULL && memcmp(coin->outpoint, outpoint, OUTPOINT_SIZE) == 0)
            return (Py_ssize_t)i;
    }
}

/* Places a coin in a free slot (the outpoint is known absent); steals `credit`. */
static void coins_place(CoinMap *m, const uint8_t *outpoint, PyObject *credit, uint64_t order) {
    uint64_t h = outpoint_hash(outpoint);
    bloom_add(&m->bloom, h);
    size_t i = (size_t)h & m->mask;
    while (m->slots[i].fingerprint != 0) i = (i + 1) & m->mask;
    Coin *coin = &m->slots[i];
    memcpy(coin->outpoint, outpoint, OUTPOINT_SIZE);
    coin->fingerprint = fingerprint(h);
    coin->credit = credit;
    coin->order = order;
    m->used++;
    m->live++;
}

/* Moves the live coins to a table with room for as many again (removed ones are dropped). */
static int coins_rehash(CoinMap *m) {
    CoinMap fresh = {.next_order = m->next_order};
    if (coins_alloc(&fresh, 2 * m->live + 32) < 0) return -1;
    for (size_t i = 0; m->slots != NULL && i <= m->mask; i++)
        if (m->slots[i].credit != NULL) {
            coins_place(&fresh, m->slots[i].outpoint, m->slots[i].credit, m->slots[i].order);
            m->slots[i].credit = NULL; /* moved, not released */
        }
    coins_free(m);
    *m = fresh;
    return 0;
}

/* Maps `outpoint` to `credit` (borrowed). `*replaced` gets what it mapped to before (a new
 * reference) or NULL. */
static int coins_put(CoinMap *m, const uint8_t *outpoint, PyObject *credit, PyObject **replaced) {
    *replaced = NULL;
    Py_ssize_t slot = coins_find(m, outpoint);
    if (slot >= 0) {
        *replaced = m->slots[slot].credit;
        m->slots[slot].credit = Py_NewRef(credit);
        return 0;
    }
    if (2 * (m->used + 1) > m->mask + 1 && coins_rehash(m) < 0) return -1;
    coins_place(m, outpoint, Py_NewRef(credit), m->next_order++);
    return 0;
}

/* Removes the coin in `slot` and gives its credit (a new reference). */
static PyObject *coins_take(CoinMap *m, Py_ssize_t slot) {
    PyObject *credit = m->slots[slot].credit;
    m->slots[slot].credit = NULL;
    m->live--;
    return credit;
}

/* --- events: the scanner's frozen dataclasses, built field by field ------------------------ */

/* A frozen dataclass's __init__ sets each field through object.__setattr__ (about 1 µs an
 * event); here the slots are filled directly, as the member descriptors would, when the class
 * is a plain slots dataclass. Any other class is called as usual. */
#define MAX_FIELDS 6

typedef struct {
    PyTypeObject *type;
    int field_count;
    const char *const *fields;
    int direct; /* the slots are filled (and read) at `offsets` */
    Py_ssize_t offsets[MAX_FIELDS];
} Record;

static int record_init(Record *r, PyObject *type, const char *const *fields, int field_count) {
    if (!PyType_Check(type)) {
        PyErr_SetString(PyExc_TypeError, "event classes must be types");
        return -1;
    }
    r->type = (PyTypeObject *)Py_NewRef(type);
    r->field_count = field_count;
    r->fields = fields;
    r->direct = r->type->tp_new == PyBaseObject_Type.tp_new && r->type->tp_dictoffset == 0 &&
                r->type->tp_alloc == PyType_GenericAlloc && !PyObject_HasAttrString(type, "__post_init__");
    for (int i = 0; r->direct && i < field_count; i++) {
        PyObject *descr = PyObject_GetAttrString(type, fields[i]);
        if (descr == NULL) return -1;
        r->direct = Py_IS_TYPE(descr, &PyMemberDescr_Type) &&
                    ((PyMemberDescrObject *)descr)->d_member->type == T_OBJECT_EX;
        if (r->direct) r->offsets[i] = ((PyMemberDescrObject *)descr)->d_member->offset;
        Py_DECREF(descr);
    }
    return 0;
}

/* A new event from borrowed field values, in field order. */
static PyObject *record_new(const Record *r, PyObject *const *values) {
    if (!r->direct) return PyObject_Vectorcall((PyObject *)r->type, values, r->field_count, NULL);
    PyObject *obj = r->type->tp_alloc(r->type, 0);
    if (obj == NULL) return NULL;
    int holds_tracked = 0;
    for (int i = 0; i < r->field_count; i++) {
        *(PyObject **)((char *)obj + r->offsets[i]) = Py_NewRef(values[i]);
        holds_tracked |= PyObject_GC_IsTracked(values[i]);
    }
    /* Bytes and ints cannot close a reference cycle: as CPython does for such tuples, spare the
     * cycle collector an event made of them (a large scan makes 200,000). */
    if (!holds_tracked && PyObject_GC_IsTracked(obj)) PyObject_GC_UnTrack(obj);
    return obj;
}

/* One field of an event (a new reference), read from its slot when it is exactly this class. */
static PyObject *record_get(const Record *r, PyObject *obj, int field) {
    if (r->direct && Py_IS_TYPE(obj, r->type)) {
        PyObject *value = *(PyObject **)((char *)obj + r->offsets[field]);
        if (value != NULL) return Py_NewRef(value);
    }
    return PyObject_GetAttrString(obj, r->fields[field]);
}

/* A debit reads its credit's field objects, which sit cold in memory: ask for them early. */
static inline void prefetch_fields(const Record *r, PyObject *obj) {
    if (!r->direct || !Py_IS_TYPE(obj, r->type)) return;
    for (int i = 0; i < r->field_count; i++) PREFETCH(*(PyObject **)((char *)obj + r->offsets[i]));
}

static const char *const CREDIT_FIELDS[] = {"txid", "vout", "value_sat", "script_pubkey", "height"};
enum { CREDIT_TXID, CREDIT_VOUT, CREDIT_VALUE, CREDIT_SCRIPT };
static const char *const DEBIT_FIELDS[] = {"outpoint", "value_sat", "script_pubkey", "spending_txid", "height"};
static const char *const FACTS_FIELDS[] = {"txid",         "height",       "tx_index",
                                           "input_count", "output_count", "output_total_sat"};
static const char *const OUTPOINT_FIELDS[] = {"txid", "vout"};

/* --- the walker --------------------------------------------------------------------------- */

typedef struct {
    uint8_t outpoint[OUTPOINT_SIZE];
    PyObject *before; /* the credit it mapped to before the change; NULL: none */
} JournalEntry;

typedef struct {
    uint32_t vout;
    uint64_t value_sat;
    PyObject *script;
} Payment;

typedef struct {
    PyObject_HEAD
    PyObject *watch; /* the Scanner's set of watched scripts (bytes); it only grows */
    int with_tx_facts;
    Record credit, debit, facts, outpoint;
    PyObject *codec_error;

    ScriptTable scripts;
    Py_ssize_t watch_size_indexed; /* -1: not indexed yet */
    int watch_all_bytes;           /* 0: the set holds other objects too, so every script asks it */
    CoinMap coins;

    /* Scratch, kept between calls to spare allocations. */
    JournalEntry *journal; /* this block's changes to `coins` */
    Py_ssize_t journal_len, journal_cap;
    PyObject **spent; /* credits taken by the current transaction */
    Py_ssize_t spent_len, spent_cap;
    Payment *paid;
    Py_ssize_t paid_len, paid_cap;
    uint8_t *stripped; /* a segwit transaction without its witnesses, to hash */
    Py_ssize_t stripped_cap;
} Walker;

static int grow(void **array, Py_ssize_t *cap, Py_ssize_t need, size_t item_size) {
    if (need <= *cap) return 0;
    Py_ssize_t fresh_cap = *cap ? *cap * 2 : 16;
    while (fresh_cap < need) fresh_cap *= 2;
    void *fresh = PyMem_Realloc(*array, (size_t)fresh_cap * item_size);
    if (fresh == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    *array = fresh;
    *cap = fresh_cap;
    return 0;
}

/* The script table must hold what the set holds when a block starts. */
static int index_watch(Walker *w) {
    Py_ssize_t size = PySet_GET_SIZE(w->watch);
    if (size == w->watch_size_indexed) return 0;
    if (scripts_reset(&w->scripts, (size_t)size) < 0) return -1;
    PyObject **items = PyMem_Malloc(((size_t)size + 1) * sizeof(PyObject *));
    PyObject *iter = items ? PyObject_GetIter(w->watch) : NULL;
    if (iter == NULL) {
        PyMem_Free(items);
        return items ? -1 : (PyErr_NoMemory(), -1);
    }
    Py_ssize_t count = 0;
    PyObject *script;
    while (count < size && (script = PyIter_Next(iter)) != NULL) items[count++] = script;
    Py_DECREF(iter);
    /* The objects are scattered over the heap, and so are the slots they go to: hash every
     * object, asking for each a few ahead, then insert, asking for each slot a few ahead. */
    uint64_t *hashes = PyMem_Malloc(((size_t)count + 1) * sizeof(uint64_t));
    if (hashes == NULL) {
        for (Py_ssize_t i = 0; i < count; i++) Py_DECREF(items[i]);
        PyMem_Free(items);
        PyErr_NoMemory();
        return -1;
    }
    w->watch_all_bytes = 1;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (i + 8 < count) PREFETCH((char *)items[i + 8] + offsetof(PyBytesObject, ob_sval));
        if (PyBytes_CheckExact(items[i]))
            hashes[i] = script_hash((const uint8_t *)PyBytes_AS_STRING(items[i]), (size_t)PyBytes_GET_SIZE(items[i]));
        else
            w->watch_all_bytes = 0;
    }
    for (Py_ssize_t i = 0; w->watch_all_bytes && i < count; i++) {
        if (i + 8 < count) {
            PREFETCH(&w->scripts.slots[hashes[i + 8] & w->scripts.mask]);
            PREFETCH(&w->scripts.bloom.words[(hashes[i + 8] >> 12) & w->scripts.bloom.mask]);
        }
        scripts_add_hashed(&w->scripts, items[i], hashes[i]);
    }
    for (Py_ssize_t i = 0; i < count; i++) Py_DECREF(items[i]);
    PyMem_Free(items);
    PyMem_Free(hashes);
    if (PyErr_Occurred()) return -1;
    w->watch_size_indexed = size;
    return 0;
}

/* Scripts the watch set gains (Scanner.watch_more): into the set and the table, without indexing
 * it anew. The set must not have them yet: a set that grew behind the walker's back can only be
 * indexed again whole (100,000 scripts: ~7 ms a call). */
static PyObject *Walker_add_scripts(Walker *w, PyObject *scripts) {
    if (index_watch(w) < 0) return NULL; /* first catches up with anything added to the set directly */
    PyObject *iter = PyObject_GetIter(scripts);
    if (iter == NULL) return NULL;
    PyObject *script;
    while ((script = PyIter_Next(iter)) != NULL) {
        int present = PySet_Contains(w->watch, script);
        if (present == 0 && (present = PySet_Add(w->watch, script)) == 0) {
            if (PyBytes_CheckExact(script) && !scripts_full(&w->scripts))
                scripts_add(&w->scripts, script);
            else
                w->watch_size_indexed = -1; /* not a bytes object, or the table is full: index anew */
        }
        Py_DECREF(script);
        if (present < 0) break;
    }
    Py_DECREF(iter);
    if (PyErr_Occurred()) return NULL;
    if (w->watch_size_indexed >= 0) w->watch_size_indexed = PySet_GET_SIZE(w->watch);
    Py_RETURN_NONE;
}

static int journal_push(Walker *w, const uint8_t *outpoint, PyObject *before) {
    if (grow((void **)&w->journal, &w->journal_cap, w->journal_len + 1, sizeof(JournalEntry)) < 0) return -1;
    JournalEntry *entry = &w->journal[w->journal_len++];
    memcpy(entry->outpoint, outpoint, OUTPOINT_SIZE);
    entry->before = Py_XNewRef(before);
    return 0;
}

static void journal_forget(Walker *w) {
    for (Py_ssize_t i = 0; i < w->journal_len; i++) Py_XDECREF(w->journal[i].before);
    w->journal_len = 0;
}

/* Puts the coins back as they were before the block, as the pure walk's _undo does a dict. */
static void journal_undo(Walker *w) {
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    for (Py_ssize_t i = w->journal_len - 1; i >= 0; i--) {
        JournalEntry *entry = &w->journal[i];
        if (entry->before != NULL) {
            PyObject *replaced;
            if (coins_put(&w->coins, entry->outpoint, entry->before, &replaced) < 0) PyErr_Clear();
            Py_XDECREF(replaced);
        } else {
            Py_ssize_t slot = coins_find(&w->coins, entry->outpoint);
            if (slot >= 0) Py_DECREF(coins_take(&w->coins, slot));
        }
    }
    journal_forget(w);
    PyErr_Restore(type, value, traceback);
}

static void scratch_forget(Walker *w) {
    for (Py_ssize_t i = 0; i < w->spent_len; i++) Py_DECREF(w->spent[i]);
    w->spent_len = 0;
    for (Py_ssize_t i = 0; i < w->paid_len; i++) Py_DECREF(w->paid[i].script);
    w->paid_len = 0;
}

/* An input: its outpoint (a spend when it is a watched unspent output), scriptSig, sequence. */
static WalkStatus walk_input(Walker *w, Cursor *c) {
    if (!has(c, OUTPOINT_SIZE)) return WALK_TRUNCATED;
    const uint8_t *outpoint = c->data + c->pos;
    Py_ssize_t slot = coins_find(&w->coins, outpoint);
    if (slot >= 0) {
        if (grow((void **)&w->spent, &w->spent_cap, w->spent_len + 1, sizeof(PyObject *)) < 0) return WALK_PYERR;
        PyObject *credit = coins_take(&w->coins, slot);
        if (journal_push(w, outpoint, credit) < 0) {
            PyObject *replaced;
            (void)coins_put(&w->coins, outpoint, credit, &replaced);
            Py_DECREF(credit);
            return WALK_PYERR;
        }
        w->spent[w->spent_len++] = credit;
        PREFETCH(credit); /* its fields are read once the transaction is hashed */
    }
    c->pos += OUTPOINT_SIZE;
    uint64_t script_sig_size;
    WalkStatus status = read_compact_size(c, &script_sig_size);
    if (status == WALK_OK) status = skip(c, script_sig_size);
    if (status == WALK_OK) status = skip(c, 4); /* sequence */
    return status;
}

/* A new bytes object of script[0:size] when it is watched; NULL when not, or on error. */
static PyObject *watched(Walker *w, const uint8_t *script, size_t size) {
    if (w->watch_all_bytes) {
        if (!scripts_has(&w->scripts, script, size, script_hash(script, size))) return NULL;
        return PyBytes_FromStringAndSize((const char *)script, (Py_ssize_t)size);
    }
    PyObject *bytes = PyBytes_FromStringAndSize((const char *)script, (Py_ssize_t)size);
    if (bytes == NULL) return NULL;
    int found = PySet_Contains(w->watch, bytes);
    if (found == 1) return bytes;
    Py_DECREF(bytes);
    return NULL;
}

/* An output: value, then scriptPubKey (recorded when watched). Adds the value to a 128-bit total. */
static WalkStatus walk_output(Walker *w, Cursor *c, uint32_t vout, uint64_t total[2]) {
    uint64_t value_sat, script_size;
    WalkStatus status = read_le(c, 8, &value_sat);
    if (status == WALK_OK) status = read_compact_size(c, &script_size);
    if (status == WALK_OK && !has(c, script_size)) status = WALK_TRUNCATED;
    if (status != WALK_OK) return status;
    total[0] += value_sat;
    total[1] += total[0] < value_sat; /* the carry: a fuzzed block may overflow 64 bits */
    PyObject *script = watched(w, c->data + c->pos, (size_t)script_size);
    if (script == NULL && PyErr_Occurred()) return WALK_PYERR;
    if (script != NULL) {
        if (grow((void **)&w->paid, &w->paid_cap, w->paid_len + 1, sizeof(Payment)) < 0) {
            Py_DECREF(script);
            return WALK_PYERR;
        }
        w->paid[w->paid_len++] = (Payment){vout, value_sat, script};
    }
    c->pos += (Py_ssize_t)script_size;
    return WALK_OK;
}

/* One input's witness: a CompactSize count of CompactSize-prefixed items, all skipped. */
static WalkStatus skip_witness(Cursor *c) {
    uint64_t item_count, item_size;
    WalkStatus status = read_compact_size(c, &item_count);
    for (uint64_t i = 0; status == WALK_OK && i < item_count; i++) {
        status = read_compact_size(c, &item_size);
        if (status == WALK_OK) status = skip(c, item_size);
    }
    return status;
}

/* The txid: SHA-256d of the serialisation without marker, flag and witnesses. */
static PyObject *txid_of(Walker *w, const Cursor *c, Py_ssize_t tx_start, Py_ssize_t body_start,
                         Py_ssize_t body_end, int segwit) {
    uint8_t digest[TXID_SIZE];
    if (!segwit) {
        sha256d(c->data + tx_start, (size_t)(c->pos - tx_start), digest);
    } else {
        Py_ssize_t body_size = body_end - body_start, size = 4 + body_size + 4;
        if (grow((void **)&w->stripped, &w->stripped_cap, size, 1) < 0) return NULL;
        memcpy(w->stripped, c->data + tx_start, 4);
        memcpy(w->stripped + 4, c->data + body_start, (size_t)body_size);
        memcpy(w->stripped + 4 + body_size, c->data + c->pos - 4, 4);
        sha256d(w->stripped, (size_t)size, digest);
    }
    return PyBytes_FromStringAndSize((const char *)digest, TXID_SIZE);
}

static PyObject *long_from_u128(const uint64_t total[2]) {
    if (total[1] == 0) return PyLong_FromUnsignedLongLong(total[0]);
    PyObject *high = PyLong_FromUnsignedLongLong(total[1]), *low = PyLong_FromUnsignedLongLong(total[0]);
    PyObject *shift = PyLong_FromLong(64), *shifted = NULL, *result = NULL;
    if (high && low && shift && (shifted = PyNumber_Lshift(high, shift))) result = PyNumber_Or(shifted, low);
    Py_XDECREF(high);
    Py_XDECREF(low);
    Py_XDECREF(shift);
    Py_XDECREF(shifted);
    return result;
}

static int append_new(PyObject *events, PyObject *event) {
    if (event == NULL) return -1;
    int rc = PyList_Append(events, event);
    Py_DECREF(event);
    return rc;
}

static int emit_debit(Walker *w, PyObject *events, PyObject *credit, PyObject *txid, PyObject *height) {
    PyObject *prev_txid = record_get(&w->credit, credit, CREDIT_TXID);
    PyObject *prev_vout = prev_txid ? record_get(&w->credit, credit, CREDIT_VOUT) : NULL;
    PyObject *value = prev_vout ? record_get(&w->credit, credit, CREDIT_VALUE) : NULL;
    PyObject *script = value ? record_get(&w->credit, credit, CREDIT_SCRIPT) : NULL;
    PyObject *outpoint = NULL;
    int rc = -1;
    if (script != NULL) {
        PyObject *outpoint_fields[] = {prev_txid, prev_vout};
        outpoint = record_new(&w->outpoint, outpoint_fields);
    }
    if (outpoint != NULL) {
        PyObject *fields[] = {outpoint, value, script, txid, height};
        rc = append_new(events, record_new(&w->debit, fields));
    }
    Py_XDECREF(prev_txid);
    Py_XDECREF(prev_vout);
    Py_XDECREF(value);
    Py_XDECREF(script);
    Py_XDECREF(outpoint);
    return rc;
}

/* A credit, and its outpoint among the coins (journaled). */
static int emit_credit(Walker *w, PyObject *events, const Payment *payment, PyObject *txid, PyObject *height) {
    uint8_t outpoint[OUTPOINT_SIZE];
    memcpy(outpoint, PyBytes_AS_STRING(txid), TXID_SIZE);
    for (int b = 0; b < 4; b++) outpoint[TXID_SIZE + b] = (uint8_t)(payment->vout >> (8 * b));
    PyObject *vout = PyLong_FromUnsignedLong(payment->vout);
    PyObject *value = PyLong_FromUnsignedLongLong(payment->value_sat);
    PyObject *credit = NULL, *replaced = NULL;
    int rc = -1;
    if (vout && value) {
        PyObject *fields[] = {txid, vout, value, payment->script, height};
        credit = record_new(&w->credit, fields);
    }
    if (credit != NULL && coins_put(&w->coins, outpoint, credit, &replaced) == 0) {
        rc = journal_push(w, outpoint, replaced);
        if (rc == 0) rc = PyList_Append(events, credit);
    }
    Py_XDECREF(replaced);
    Py_XDECREF(vout);
    Py_XDECREF(value);
    Py_XDECREF(credit);
    return rc;
}

static int emit_facts(Walker *w, PyObject *events, PyObject *txid, PyObject *height, Py_ssize_t tx_index,
                      uint64_t input_count, uint64_t output_count, const uint64_t total[2]) {
    PyObject *index = PyLong_FromSsize_t(tx_index), *inputs = PyLong_FromUnsignedLongLong(input_count);
    PyObject *outputs = PyLong_FromUnsignedLongLong(output_count), *total_sat = long_from_u128(total);
    int rc = -1;
    if (index && inputs && outputs && total_sat) {
        PyObject *fields[] = {txid, height, index, inputs, outputs, total_sat};
        rc = append_new(events, record_new(&w->facts, fields));
    }
    Py_XDECREF(index);
    Py_XDECREF(inputs);
    Py_XDECREF(outputs);
    Py_XDECREF(total_sat);
    return rc;
}

/* A transaction: version, [marker, flag], inputs, outputs, [witnesses], locktime. Its events come
 * in the pure walk's order: debits, credits, then its facts. */
static WalkStatus walk_tx(Walker *w, Cursor *c, PyObject *height, Py_ssize_t tx_index, PyObject *events) {
    Py_ssize_t tx_start = c->pos;
    WalkStatus status = skip(c, 4); /* version */
    if (status != WALK_OK) return status;
    if (!has(c, 1)) return WALK_TRUNCATED;
    int segwit = c->data[c->pos] == 0; /* a zero input count is the BIP-144 marker */
    if (segwit && (status = skip(c, 2)) != WALK_OK) return status;
    Py_ssize_t body_start = c->pos;

    uint64_t input_count, output_count;
    if ((status = read_compact_size(c, &input_count)) != WALK_OK) return status;
    for (uint64_t i = 0; i < input_count; i++)
        if ((status = walk_input(w, c)) != WALK_OK) return status;

    for (Py_ssize_t i = 0; i < w->spent_len; i++) prefetch_fields(&w->credit, w->spent[i]);

    if ((status = read_compact_size(c, &output_count)) != WALK_OK) return status;
    uint64_t total[2] = {0, 0};
    for (uint64_t vout = 0; vout < output_count; vout++)
        if ((status = walk_output(w, c, (uint32_t)vout, total)) != WALK_OK) return status;
    Py_ssize_t body_end = c->pos;

    if (segwit)
        for (uint64_t i = 0; i < input_count; i++)
            if ((status = skip_witness(c)) != WALK_OK) return status;
    if ((status = skip(c, 4)) != WALK_OK) return status; /* locktime */

    if (w->spent_len == 0 && w->paid_len == 0) return WALK_OK;
    PyObject *txid = txid_of(w, c, tx_start, body_start, body_end, segwit);
    if (txid == NULL) return WALK_PYERR;
    int rc = 0;
    for (Py_ssize_t i = 0; rc == 0 && i < w->spent_len; i++) rc = emit_debit(w, events, w->spent[i], txid, height);
    for (Py_ssize_t i = 0; rc == 0 && i < w->paid_len; i++) rc = emit_credit(w, events, &w->paid[i], txid, height);
    if (rc == 0 && w->with_tx_facts)
        rc = emit_facts(w, events, txid, height, tx_index, input_count, output_count, total);
    Py_DECREF(txid);
    return rc < 0 ? WALK_PYERR : WALK_OK;
}

/* A block: the 80-byte header, a CompactSize transaction count, the transactions. */
static WalkStatus walk_block(Walker *w, Cursor *c, PyObject *height, PyObject *events) {
    uint64_t tx_count;
    WalkStatus status = skip(c, HEADER_SIZE);
    if (status == WALK_OK) status = read_compact_size(c, &tx_count);
    /* Each transaction takes at least ten bytes, so a fuzzed count ends in truncation soon. */
    for (uint64_t i = 0; status == WALK_OK && i < tx_count; i++) {
        status = walk_tx(w, c, height, (Py_ssize_t)i, events);
        scratch_forget(w);
    }
    return status;
}

static PyObject *Walker_walk(Walker *w, PyObject *args) {
    PyObject *height;
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "Oy*:walk", &height, &view)) return NULL;
    PyObject *events = PyList_New(0);
    if (events == NULL || index_watch(w) < 0) {
        Py_XDECREF(events);
        PyBuffer_Release(&view);
        return NULL;
    }
    Cursor c = {(const uint8_t *)view.buf, view.len, 0};
    WalkStatus status = walk_block(w, &c, height, events);
    PyBuffer_Release(&view);
    /* The wording is the pure walk's (Scanner.scan_raw_block); the differential tests hold it so. */
    if (status == WALK_TRUNCATED)
        PyErr_Format(w->codec_error, "block at height %S is truncated", height);
    else if (status == WALK_OK && c.pos != c.size)
        PyErr_Format(w->codec_error, "block at height %S has %zd bytes after its transactions", height,
                     c.size - c.pos);
    if (PyErr_Occurred()) {
        journal_undo(w);
        Py_DECREF(events);
        return NULL;
    }
    journal_forget(w);
    return events;
}

/* --- the walker as the Scanner's mapping of 36-byte outpoints to Credits ------------------ */

/* The 36 bytes of `key`, or NULL (with TypeError when `strict`) when it cannot be an outpoint. */
static const uint8_t *outpoint_key(PyObject *key, int strict) {
    if (PyBytes_Check(key) && PyBytes_GET_SIZE(key) == OUTPOINT_SIZE) return (const uint8_t *)PyBytes_AS_STRING(key);
    if (strict) PyErr_SetString(PyExc_TypeError, "an outpoint key is 36 bytes: the txid, then the output index as LE32");
    return NULL;
}

static Py_ssize_t Walker_len(Walker *w) { return (Py_ssize_t)w->coins.live; }

static int Walker_contains(Walker *w, PyObject *key) {
    const uint8_t *outpoint = outpoint_key(key, 0);
    return outpoint != NULL && coins_find(&w->coins, outpoint) >= 0;
}

static PyObject *Walker_getitem(Walker *w, PyObject *key) {
    const uint8_t *outpoint = outpoint_key(key, 0);
    Py_ssize_t slot = outpoint ? coins_find(&w->coins, outpoint) : -1;
    if (slot < 0) {
        PyErr_SetObject(PyExc_KeyError, key);
        return NULL;
    }
    return Py_NewRef(w->coins.slots[slot].credit);
}

static int Walker_setitem(Walker *w, PyObject *key, PyObject *credit) {
    const uint8_t *outpoint = outpoint_key(key, credit != NULL);
    if (credit == NULL) { /* del walker[key] */
        Py_ssize_t slot = outpoint ? coins_find(&w->coins, outpoint) : -1;
        if (slot < 0) {
            PyErr_SetObject(PyExc_KeyError, key);
            return -1;
        }
        Py_DECREF(coins_take(&w->coins, slot));
        return 0;
    }
    if (outpoint == NULL) return -1;
    PyObject *replaced;
    int rc = coins_put(&w->coins, outpoint, credit, &replaced);
    Py_XDECREF(replaced);
    return rc;
}

static PyObject *Walker_pop(Walker *w, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "pop(key[, default])");
        return NULL;
    }
    const uint8_t *outpoint = outpoint_key(args[0], 0);
    Py_ssize_t slot = outpoint ? coins_find(&w->coins, outpoint) : -1;
    if (slot >= 0) return coins_take(&w->coins, slot);
    if (nargs == 2) return Py_NewRef(args[1]);
    PyErr_SetObject(PyExc_KeyError, args[0]);
    return NULL;
}

static int by_order(const void *a, const void *b) {
    uint64_t x = (*(const Coin *const *)a)->order, y = (*(const Coin *const *)b)->order;
    return (x > y) - (x < y);
}

/* The credits, in the order a dict would give them (the order of adding). */
static PyObject *Walker_values(Walker *w, PyObject *Py_UNUSED(ignored)) {
    size_t live = w->coins.live;
    const Coin **coins = PyMem_Malloc((live ? live : 1) * sizeof(Coin *));
    if (coins == NULL) return PyErr_NoMemory();
    size_t n = 0;
    for (size_t i = 0; w->coins.slots != NULL && i <= w->coins.mask; i++)
        if (w->coins.slots[i].credit != NULL) coins[n++] = &w->coins.slots[i];
    qsort(coins, n, sizeof(Coin *), by_order);
    PyObject *values = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; values != NULL && i < n; i++) PyList_SET_ITEM(values, (Py_ssize_t)i, Py_NewRef(coins[i]->credit));
    PyMem_Free(coins);
    return values;
}

static int Walker_init(Walker *w, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"watch", "with_tx_facts", "credit", "debit", "facts", "outpoint", "codec_error", NULL};
    PyObject *watch, *credit, *debit, *facts, *outpoint, *codec_error;
    int with_tx_facts;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!$pOOOOO:Walker", keywords, &PySet_Type, &watch, &with_tx_facts,
                                     &credit, &debit, &facts, &outpoint, &codec_error))
        return -1;
    if (w->watch != NULL) {
        PyErr_SetString(PyExc_TypeError, "a Walker is initialised once");
        return -1;
    }
    w->watch = Py_NewRef(watch);
    w->with_tx_facts = with_tx_facts;
    w->codec_error = Py_NewRef(codec_error);
    w->watch_size_indexed = -1;
    if (record_init(&w->credit, credit, CREDIT_FIELDS, 5) < 0 || record_init(&w->debit, debit, DEBIT_FIELDS, 5) < 0 ||
        record_init(&w->facts, facts, FACTS_FIELDS, 6) < 0 || record_init(&w->outpoint, outpoint, OUTPOINT_FIELDS, 2) < 0)
        return -1;
    return coins_alloc(&w->coins, 0);
}

static int Walker_traverse(Walker *w, visitproc visit, void *arg) {
    Py_VISIT(w->watch);
    Py_VISIT(w->codec_error);
    Py_VISIT(w->credit.type);
    Py_VISIT(w->debit.type);
    Py_VISIT(w->facts.type);
    Py_VISIT(w->outpoint.type);
    for (size_t i = 0; w->coins.slots != NULL && i <= w->coins.mask; i++) Py_VISIT(w->coins.slots[i].credit);
    return 0;
}

static int Walker_clear(Walker *w) {
    Py_CLEAR(w->watch);
    Py_CLEAR(w->codec_error);
    Py_CLEAR(w->credit.type);
    Py_CLEAR(w->debit.type);
    Py_CLEAR(w->facts.type);
    Py_CLEAR(w->outpoint.type);
    coins_free(&w->coins);
    return 0;
}

static void Walker_dealloc(Walker *w) {
    PyObject_GC_UnTrack(w);
    journal_forget(w);
    scratch_forget(w);
    Walker_clear(w);
    scripts_free(&w->scripts);
    PyMem_Free(w->journal);
    PyMem_Free(w->spent);
    PyMem_Free(w->paid);
    PyMem_Free(w->stripped);
    Py_TYPE(w)->tp_free((PyObject *)w);
}

static PyMethodDef Walker_methods[] = {
    {"walk", (PyCFunction)Walker_walk, METH_VARARGS,
     "walk(height, block_bytes) -> list of events; CodecError (coins unchanged) when malformed."},
    {"pop", (PyCFunction)(void (*)(void))Walker_pop, METH_FASTCALL, "pop(outpoint[, default]) -> Credit"},
    {"add_scripts", (PyCFunction)Walker_add_scripts, METH_O,
     "add_scripts(scripts): scripts the watch set was just given, indexed without indexing it all again."},
    {"values", (PyCFunction)Walker_values, METH_NOARGS, "The unspent credits, in the order they were added."},
    {NULL, NULL, 0, NULL},
};

static PyMappingMethods Walker_mapping = {
    .mp_length = (lenfunc)Walker_len,
    .mp_subscript = (binaryfunc)Walker_getitem,
    .mp_ass_subscript = (objobjargproc)Walker_setitem,
};

static PySequenceMethods Walker_sequence = {.sq_contains = (objobjproc)Walker_contains};

static PyTypeObject WalkerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "boveda.chain._walk.Walker",
    .tp_doc = PyDoc_STR("The raw walk over a Scanner's watch set (shared, not copied), holding its watched "
                        "unspent outputs as a mapping of 36-byte outpoints to Credits."),
    .tp_basicsize = sizeof(Walker),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Walker_init,
    .tp_dealloc = (destructor)Walker_dealloc,
    .tp_traverse = (traverseproc)Walker_traverse,
    .tp_clear = (inquiry)Walker_clear,
    .tp_methods = Walker_methods,
    .tp_as_mapping = &Walker_mapping,
    .tp_as_sequence = &Walker_sequence,
};

/* --- XOR de-obfuscation of blk/rev bytes ---------------------------------------------------- */

static PyObject *xor_bytes(PyObject *Py_UNUSED(module), PyObject *args) {
    Py_buffer data, key;
    unsigned long long file_offset;
    if (!PyArg_ParseTuple(args, "y*y*K:xor", &data, &key, &file_offset)) return NULL;
    PyObject *out = NULL;
    if (key.len != 8) {
        PyErr_SetString(PyExc_ValueError, "the obfuscation key is 8 bytes");
    } else if ((out = PyBytes_FromStringAndSize(NULL, data.len)) != NULL) {
        const uint8_t *src = data.buf, *k = key.buf;
        uint8_t *dst = (uint8_t *)PyBytes_AS_STRING(out), rotated[8];
        for (int i = 0; i < 8; i++) rotated[i] = k[(file_offset + (unsigned)i) % 8];
        uint64_t key_word;
        memcpy(&key_word, rotated, 8);
        Py_ssize_t i = 0;
        for (; i + 8 <= data.len; i += 8) {
            uint64_t word;
            memcpy(&word, src + i, 8);
            word ^= key_word;
            memcpy(dst + i, &word, 8);
        }
        for (; i < data.len; i++) dst[i] = src[i] ^ rotated[i % 8];
    }
    PyBuffer_Release(&data);
    PyBuffer_Release(&key);
    return out;
}

/* For the tests: the walk's own SHA-256d, with the portable rounds or the CPU's (when it has them). */
static PyObject *sha256d_bytes(PyObject *Py_UNUSED(module), PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"data", "portable", NULL};
    Py_buffer data;
    int portable = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*|$p:sha256d", keywords, &data, &portable)) return NULL;
    Sha256Blocks chosen = sha256_blocks;
    if (portable) sha256_blocks = sha256_blocks_portable;
    uint8_t digest[32];
    sha256d(data.buf, (size_t)data.len, digest);
    sha256_blocks = chosen;
    PyBuffer_Release(&data);
    return PyBytes_FromStringAndSize((const char *)digest, 32);
}

static PyMethodDef module_methods[] = {
    {"xor", xor_bytes, METH_VARARGS,
     "xor(data, key8, file_offset) -> bytes: blk/rev bytes read at file_offset, XORed with the key."},
    {"sha256d", (PyCFunction)(void (*)(void))sha256d_bytes, METH_VARARGS | METH_KEYWORDS,
     "sha256d(data, *, portable=False) -> the 32-byte digest, as the walk computes txids."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef walk_module = {
    PyModuleDef_HEAD_INIT, "_walk", "The compiled raw walk of boveda.chain.scanner.", -1, module_methods,
};

PyMODINIT_FUNC PyInit__walk(void) {
#ifdef HAVE_SHA_NI_CODE
    if (cpu_has_sha_ni()) sha256_blocks = sha256_blocks_sha_ni;
#endif
    if (PyType_Ready(&WalkerType) < 0) return NULL;
    PyObject *module = PyModule_Create(&walk_module);
    if (module == NULL) return NULL;
    if (PyModule_AddObjectRef(module, "Walker", (PyObject *)&WalkerType) < 0 ||
        PyModule_AddIntConstant(module, "SHA_EXTENSIONS", sha256_blocks != sha256_blocks_portable) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
