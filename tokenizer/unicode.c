// UTF-8, NFC and the byte-level alphabet. NFC follows UAX #15: full canonical
// decomposition, canonical ordering by combining class, then canonical
// composition of primary composites; the tables come from
// tools/gen_unicode_nfc.py.
#include "tokenizer/unicode.h"
#include <stdlib.h>
#include <string.h>
#include "tokenizer/unicode_nfc_data.h"

uint32_t utf8_decode(const uint8_t *s, size_t n, int *adv) {
    uint8_t c = s[0];
    int l = utf8_len(c);
    if ((size_t)l > n) l = 1;
    switch (l) {
    case 1: *adv = 1; return c;
    case 2: *adv = 2; return ((uint32_t)(c & 0x1F) << 6) | (s[1] & 0x3F);
    case 3: *adv = 3; return ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    default:
        *adv = 4;
        return ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
               ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
    }
}

int utf8_encode(uint32_t cp, uint8_t *o) {
    if (cp < 0x80) { o[0] = (uint8_t)cp; return 1; }
    if (cp < 0x800) { o[0] = (uint8_t)(0xC0 | (cp >> 6)); o[1] = (uint8_t)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (cp >> 12)); o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | (cp >> 18)); o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

// Well-formed byte sequences (Unicode 14, table 3-7): the range allowed for
// the second byte depends on the lead; later bytes are always 80..BF.
int utf8_valid_seq(const uint8_t *s, size_t n, int *maximal) {
    uint8_t c = s[0];
    int need;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c == 0xE0) { need = 2; lo = 0xA0; }
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) need = 2;
    else if (c == 0xED) { need = 2; hi = 0x9F; }
    else if (c == 0xF0) { need = 3; lo = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) need = 3;
    else if (c == 0xF4) { need = 3; hi = 0x8F; }
    else { *maximal = 1; return 0; }
    for (int i = 1; i <= need; i++) {
        if ((size_t)i >= n || s[i] < lo || s[i] > hi) { *maximal = i; return 0; }
        lo = 0x80; hi = 0xBF;
    }
    return need + 1;
}

char *utf8_repair(const char *text, size_t len, size_t *out_len) {
    const uint8_t *s = (const uint8_t *)text;
    size_t i = 0;
    int m;
    while (i < len) {
        if (s[i] < 0x80) { i++; continue; }
        int l = utf8_valid_seq(s + i, len - i, &m);
        if (!l) break;
        i += (size_t)l;
    }
    if (i == len) return NULL;
    // Each ill-formed byte becomes at most 3 bytes (U+FFFD).
    uint8_t *o = malloc(len * 3 + 1), *p = o;
    if (!o) return NULL;
    memcpy(p, s, i);
    p += i;
    while (i < len) {
        int l = utf8_valid_seq(s + i, len - i, &m);
        if (l) { memcpy(p, s + i, (size_t)l); p += l; i += (size_t)l; }
        else { *p++ = 0xEF; *p++ = 0xBF; *p++ = 0xBD; i += (size_t)m; }
    }
    *p = 0;
    *out_len = (size_t)(p - o);
    return (char *)o;
}

int unicode_is_whitespace(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

// ---- NFC ----

enum { SBASE = 0xAC00, LBASE = 0x1100, VBASE = 0x1161, TBASE = 0x11A7,
       LCOUNT = 19, VCOUNT = 21, TCOUNT = 28, NCOUNT = VCOUNT * TCOUNT, SCOUNT = LCOUNT * NCOUNT };

static int ccc_of(uint32_t cp) {
    if (cp < 0x300) return 0;
    size_t lo = 0, hi = NFC_N_CCC;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        uint32_t k = nfc_ccc[mid] >> 8;
        if (k == cp) return (int)(nfc_ccc[mid] & 0xFF);
        if (k < cp) lo = mid + 1; else hi = mid;
    }
    return 0;
}

static const uint32_t *decomp_of(uint32_t cp) {
    size_t lo = 0, hi = NFC_N_DECOMP;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        uint32_t k = nfc_decomp[3 * mid];
        if (k == cp) return &nfc_decomp[3 * mid + 1];
        if (k < cp) lo = mid + 1; else hi = mid;
    }
    return NULL;
}

static uint32_t compose_pair(uint32_t a, uint32_t b) {
    if (a >= LBASE && a < LBASE + LCOUNT && b >= VBASE && b < VBASE + VCOUNT)
        return SBASE + ((a - LBASE) * VCOUNT + (b - VBASE)) * TCOUNT;
    if (a >= SBASE && a < SBASE + SCOUNT && (a - SBASE) % TCOUNT == 0 && b > TBASE && b < TBASE + TCOUNT)
        return a + (b - TBASE);
    size_t lo = 0, hi = NFC_N_COMP;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        uint32_t ka = nfc_comp[3 * mid], kb = nfc_comp[3 * mid + 1];
        if (ka == a && kb == b) return nfc_comp[3 * mid + 2];
        if (ka < a || (ka == a && kb < b)) lo = mid + 1; else hi = mid;
    }
    return 0;
}

typedef struct { uint32_t *v; size_t n, cap; } CpBuf;

static int cp_push(CpBuf *b, uint32_t cp) {
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 64;
        uint32_t *nv = realloc(b->v, nc * sizeof *nv);
        if (!nv) return -1;
        b->v = nv; b->cap = nc;
    }
    b->v[b->n++] = cp;
    return 0;
}

static int decompose(CpBuf *b, uint32_t cp) {
    if (cp >= SBASE && cp < SBASE + SCOUNT) {
        uint32_t si = cp - SBASE;
        if (cp_push(b, LBASE + si / NCOUNT) || cp_push(b, VBASE + (si % NCOUNT) / TCOUNT)) return -1;
        if (si % TCOUNT) return cp_push(b, TBASE + si % TCOUNT);
        return 0;
    }
    const uint32_t *d = cp < 0xC0 ? NULL : decomp_of(cp);
    if (!d) return cp_push(b, cp);
    if (decompose(b, d[0])) return -1;
    return d[1] ? decompose(b, d[1]) : 0;
}

static char *nfc_region(const char *text, size_t len, size_t *out_len) {
    const uint8_t *s = (const uint8_t *)text;
    CpBuf b = {0};
    for (size_t i = 0; i < len;) {
        int adv;
        uint32_t cp = utf8_decode(s + i, len - i, &adv);
        i += (size_t)adv;
        if (decompose(&b, cp)) { free(b.v); return NULL; }
    }
    // Canonical ordering: stable insertion sort of each run of non-starters.
    for (size_t k = 1; k < b.n; k++) {
        int c = ccc_of(b.v[k]);
        if (!c) continue;
        size_t j = k;
        uint32_t cp = b.v[k];
        while (j > 0 && ccc_of(b.v[j - 1]) > c) { b.v[j] = b.v[j - 1]; j--; }
        b.v[j] = cp;
    }
    // Canonical composition: a character combines with the last starter
    // unless blocked by an intervening character of equal or higher class.
    size_t out = 0, starter = (size_t)-1;
    int last_ccc = 0; // class of the last character kept after the starter
    for (size_t k = 0; k < b.n; k++) {
        uint32_t cp = b.v[k];
        int c = ccc_of(cp);
        // Between the starter and cp lie only non-starters in class order, so
        // cp is unblocked iff it is adjacent or the last of them has a lower class.
        if (starter != (size_t)-1 && (out == starter + 1 || (last_ccc != 0 && last_ccc < c))) {
            uint32_t comp = compose_pair(b.v[starter], cp);
            if (comp) { b.v[starter] = comp; continue; }
        }
        if (c == 0) starter = out;
        last_ccc = c;
        b.v[out++] = cp;
    }
    uint8_t *o = malloc(out * 4 + 1), *p = o;
    if (!o) { free(b.v); return NULL; }
    for (size_t k = 0; k < out; k++) p += utf8_encode(b.v[k], p);
    *p = 0;
    free(b.v);
    if ((size_t)(p - o) == len && !memcmp(o, s, len)) { free(o); return NULL; }
    *out_len = (size_t)(p - o);
    return (char *)o;
}

// NFC of the whole text, normalizing only where it can change: every code
// point below U+0300 is NFC-stable on its own, and only characters >= U+0300
// (lead byte >= 0xCC) compose or reorder. The boundary between two ASCII
// characters X Y is a safe cut: Y is a starter that never composes with X, and
// a starter stops reordering and composition. So each stretch with a byte
// >= 0xCC is normalized from the previous such cut to the next one, and the
// rest is copied.
char *unicode_nfc(const char *text, size_t len, size_t *out_len) {
    const uint8_t *s = (const uint8_t *)text;
    size_t i = 0;
    while (i < len && s[i] < 0xCC) i++;
    if (i == len) return NULL;
    char *out = NULL;
    size_t o = 0, cap = 0, done = 0; // text[0..done) is already in out
    while (i < len) {
        // stretch [a, z) around the byte at i, bounded by safe cuts
        size_t a = i;
        while (a > done && !(s[a] < 0x80 && s[a - 1] < 0x80)) a--;
        size_t z = i + 1;
        while (z < len && !(s[z] < 0x80 && s[z - 1] < 0x80)) z++;
        size_t nl;
        char *n = nfc_region(text + a, z - a, &nl);
        const char *piece = n ? n : text + a;
        size_t pl = n ? nl : z - a;
        size_t need = o + (a - done) + pl + (len - z) + 1;
        if (need > cap) {
            cap = need + len / 4;
            char *g = realloc(out, cap);
            if (!g) { free(out); free(n); return NULL; }
            out = g;
        }
        memcpy(out + o, text + done, a - done);
        o += a - done;
        memcpy(out + o, piece, pl);
        o += pl;
        free(n);
        done = z;
        i = z;
        while (i < len && s[i] < 0xCC) i++;
    }
    if (!out) return NULL;
    memcpy(out + o, text + done, len - done);
    o += len - done;
    out[o] = 0;
    if (o == len && !memcmp(out, text, len)) { free(out); return NULL; }
    *out_len = o;
    return out;
}

// ---- byte-level alphabet (GPT-2's bytes_to_unicode) ----

const uint16_t bytelevel_cp[256] = {
#define R(b) (((b) >= 0x21 && (b) <= 0x7E) || ((b) >= 0xA1 && (b) <= 0xAC) || ((b) >= 0xAE && (b) <= 0xFF))
// Bytes outside the printable ranges take U+0100, U+0101, ... in byte order.
#define B(b) (R(b) ? (b) : 0x100 + bl_rank(b))
#define bl_rank(b) ((b) <= 0x20 ? (b) : (b) <= 0xA0 ? (b) - 0x7F + 0x21 - 0 : (b) - 0xAD + 0x21 + 0x22)
#define ROW(r) B(r+0),B(r+1),B(r+2),B(r+3),B(r+4),B(r+5),B(r+6),B(r+7),B(r+8),B(r+9),B(r+10),B(r+11),B(r+12),B(r+13),B(r+14),B(r+15)
    ROW(0x00), ROW(0x10), ROW(0x20), ROW(0x30), ROW(0x40), ROW(0x50), ROW(0x60), ROW(0x70),
    ROW(0x80), ROW(0x90), ROW(0xA0), ROW(0xB0), ROW(0xC0), ROW(0xD0), ROW(0xE0), ROW(0xF0),
#undef ROW
#undef bl_rank
#undef B
#undef R
};

int bytelevel_byte(uint32_t cp) {
    if (cp < 0x100) {
        if ((cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF)) return (int)cp;
        return -1;
    }
    if (cp > 0x143) return -1;
    // n-th non-printable byte, n = cp - 0x100: 0x00-0x20 (33), 0x7F-0xA0 (34), 0xAD (1).
    uint32_t n = cp - 0x100;
    if (n <= 0x20) return (int)n;
    if (n <= 0x20 + 34) return (int)(0x7F + n - 0x21);
    return 0xAD;
}
