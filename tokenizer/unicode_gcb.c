#include "tokenizer/unicode_gcb.h"
#include "tokenizer/unicode.h"
#include "tokenizer/unicode_gcb_data.h"

unsigned unicode_gcb_props(uint32_t cp) {
    size_t lo = 0, hi = sizeof gcb_ranges / sizeof *gcb_ranges;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < gcb_ranges[mid][0]) hi = mid;
        else if (cp > (gcb_ranges[mid][1] & 0xFFFFFF)) lo = mid + 1;
        else return gcb_ranges[mid][1] >> 24;
    }
    return 0;
}

// Whether there is NO break between the previous code point (class a, and the
// state of the cluster so far) and the next one (class b). The states carry
// what GB9c, GB11 and GB12/13 need to look back over.
typedef struct {
    int ri_odd;     // an odd number of Regional_Indicators ends the cluster so far
    int pict;       // GB11: ExtPict Extend* seen (1), then ZWJ (2)
    int incb;       // GB9c: Consonant [Extend|Linker]* seen (1), with a Linker among them (2)
} GcbState;

static int no_break(unsigned pa, unsigned pb, const GcbState *st) {
    int a = pa & 15, b = pb & 15;
    if (a == GCB_CR && b == GCB_LF) return 1;                                            // GB3
    if (a == GCB_CR || a == GCB_LF || a == GCB_CONTROL) return 0;                        // GB4
    if (b == GCB_CR || b == GCB_LF || b == GCB_CONTROL) return 0;                        // GB5
    if (a == GCB_L && (b == GCB_L || b == GCB_V || b == GCB_LV || b == GCB_LVT)) return 1; // GB6
    if ((a == GCB_LV || a == GCB_V) && (b == GCB_V || b == GCB_T)) return 1;             // GB7
    if ((a == GCB_LVT || a == GCB_T) && b == GCB_T) return 1;                            // GB8
    if (b == GCB_EXTEND || b == GCB_ZWJ) return 1;                                       // GB9
    if (b == GCB_SPACINGMARK) return 1;                                                  // GB9a
    if (a == GCB_PREPEND) return 1;                                                      // GB9b
    if (st->incb == 2 && ((pb >> 5) & 3) == INCB_CONSONANT) return 1;                    // GB9c
    if (st->pict == 2 && ((pb >> 4) & 1)) return 1;                                      // GB11
    if (a == GCB_RI && b == GCB_RI && st->ri_odd) return 1;                              // GB12/13
    return 0;                                                                            // GB999
}

static void advance(GcbState *st, unsigned p) {
    int c = p & 15, incb = (p >> 5) & 3;
    st->ri_odd = c == GCB_RI ? !st->ri_odd : 0;
    if ((p >> 4) & 1) st->pict = 1;
    else if (st->pict == 1 && c == GCB_EXTEND) st->pict = 1;
    else if (st->pict == 1 && c == GCB_ZWJ) st->pict = 2;
    else st->pict = 0;
    if (incb == INCB_CONSONANT) st->incb = 1;
    else if (st->incb && incb == INCB_LINKER) st->incb = 2;
    else if (st->incb && incb == INCB_EXTEND) { /* keeps the state */ }
    else st->incb = 0;
}

size_t unicode_grapheme_len(const char *s, size_t n) {
    const uint8_t *u = (const uint8_t *)s;
    int adv;
    uint32_t cp = utf8_decode(u, n, &adv);
    unsigned prev = unicode_gcb_props(cp);
    GcbState st = {0, 0, 0};
    advance(&st, prev);
    size_t i = (size_t)adv;
    while (i < n) {
        cp = utf8_decode(u + i, n - i, &adv);
        unsigned p = unicode_gcb_props(cp);
        if (!no_break(prev, p, &st)) break;
        advance(&st, p);
        prev = p;
        i += (size_t)adv;
    }
    return i;
}
