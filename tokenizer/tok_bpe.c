// The two merge algorithms, each O(n log n) in the piece length with a binary
// heap of candidate merges (no quadratic rescans):
//  - rank BPE (HF tokenizers' BPE model, GGUF "gpt2"): repeatedly merge the
//    adjacent pair of lowest merge rank, leftmost first (tokenizers
//    src/models/bpe/word.rs merge_all semantics, stale heap entries skipped);
//  - score BPE (SentencePiece's BPE model, GGUF "llama"): repeatedly merge the
//    adjacent pair whose concatenation is the vocabulary piece of highest
//    score, leftmost first; unknown characters fall back to <0xNN> bytes.
#include <stdlib.h>
#include <string.h>
#include "tokenizer/tok_internal.h"
#include "tokenizer/unicode.h"

typedef struct {
    int32_t id;          // rank BPE: current token id
    uint32_t start, len; // bytes of the piece covered; len 0 = merged away
    int32_t prev, next;
} Sym;

typedef struct {
    float key;      // score BPE: score (max-heap); rank BPE: rank (min-heap)
    int32_t pos;    // left symbol
    int32_t right;  // score BPE: right symbol
    int32_t id;     // rank BPE: merged id
    uint32_t size;  // score BPE: bytes of the merged piece
} Cand;

typedef struct {
    uint32_t w, wl, l, ll, r, rl; // score BPE: piece w split into l + r (offsets in the piece)
} RevMerge;

struct TokScratch {
    Sym *sym;
    size_t sym_cap;
    Cand *heap;
    size_t heap_n, heap_cap;
    RevMerge *rev;
    size_t rev_n, rev_cap;
    char *buf;
    size_t buf_cap;
};

TokScratch *tok_scratch_new(void) { return calloc(1, sizeof(TokScratch)); }

void tok_scratch_free(TokScratch *s) {
    if (!s) return;
    free(s->sym);
    free(s->heap);
    free(s->rev);
    free(s->buf);
    free(s);
}

int tok_ids_push(TokIds *o, int32_t id) {
    if (o->n == o->cap) {
        size_t nc = o->cap ? o->cap * 2 : 256;
        int32_t *nv = realloc(o->v, nc * sizeof *nv);
        if (!nv) return -1;
        o->v = nv;
        o->cap = nc;
    }
    o->v[o->n++] = id;
    return 0;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 64;
    while (nc < need) nc *= 2;
    void *np = realloc(*p, nc * elem);
    if (!np) return -1;
    *p = np;
    *cap = nc;
    return 0;
}

// "a before b": rank BPE wants the lowest rank, score BPE the highest score;
// ties go to the leftmost position in both.
static inline int cand_before(const Cand *a, const Cand *b, int maxheap) {
    if (a->key != b->key) return maxheap ? a->key > b->key : a->key < b->key;
    return a->pos < b->pos;
}

static int heap_push(TokScratch *s, Cand c, int maxheap) {
    if (grow((void **)&s->heap, &s->heap_cap, s->heap_n + 1, sizeof(Cand))) return -1;
    size_t i = s->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cand_before(&c, &s->heap[p], maxheap)) break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = c;
    return 0;
}

static Cand heap_pop(TokScratch *s, int maxheap) {
    Cand top = s->heap[0], last = s->heap[--s->heap_n];
    size_t i = 0, n = s->heap_n;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const Cand *best = &last;
        if (l < n && cand_before(&s->heap[l], best, maxheap)) { m = l; best = &s->heap[l]; }
        if (r < n && cand_before(&s->heap[r], best, maxheap)) m = r;
        if (m == i) break;
        s->heap[i] = s->heap[m];
        i = m;
    }
    if (n) s->heap[i] = last;
    return top;
}

// ---------------------------------------------------------------- rank BPE

static int add_sym(TokScratch *s, size_t *n, int32_t id, uint32_t start, uint32_t len) {
    if (grow((void **)&s->sym, &s->sym_cap, *n + 1, sizeof(Sym))) return -1;
    s->sym[*n] = (Sym){id, start, len, (int32_t)*n - 1, (int32_t)*n + 1};
    (*n)++;
    return 0;
}

// Vocabulary id of p[0..n) with the continuing-subword prefix / end-of-word
// suffix applied as HF does (prefix on every character but the first).
static int32_t lookup_affixed(const Tokenizer *t, TokScratch *s, const char *p, size_t n, int first, int last) {
    if (!(t->cont_prefix && !first) && !(t->word_suffix && last)) return tok_map_get(&t->vocab, p, n, -1);
    size_t pl = (t->cont_prefix && !first) ? strlen(t->cont_prefix) : 0;
    size_t sl = (t->word_suffix && last) ? strlen(t->word_suffix) : 0;
    if (grow((void **)&s->buf, &s->buf_cap, pl + n + sl, 1)) return -1;
    memcpy(s->buf, t->cont_prefix, pl);
    memcpy(s->buf + pl, p, n);
    memcpy(s->buf + pl + n, t->word_suffix, sl);
    return tok_map_get(&t->vocab, s->buf, pl + n + sl, -1);
}

static int bpe_rank(const Tokenizer *t, TokScratch *s, const char *p, size_t n, TokIds *out) {
    if (t->ignore_merges) {
        int32_t id = tok_map_get(&t->vocab, p, n, -1);
        if (id >= 0) return tok_ids_push(out, id);
    }
    size_t ns = 0;
    int32_t unk = -1;
    uint32_t unk_start = 0, unk_len = 0;
    int affixed = t->cont_prefix || t->word_suffix;
    for (size_t i = 0; i < n;) {
        size_t cl = t->bytelevel ? 1 : (size_t)utf8_len((uint8_t)p[i]);
        if (i + cl > n) cl = n - i;
        int32_t id = (t->bytelevel && !affixed) ? t->single[(uint8_t)p[i]]
                                                 : lookup_affixed(t, s, p + i, cl, i == 0, i + cl == n);
        if (id >= 0) {
            if (unk >= 0) {
                if (add_sym(s, &ns, unk, unk_start, unk_len)) return -1;
                unk = -1;
            }
            if (add_sym(s, &ns, id, (uint32_t)i, (uint32_t)cl)) return -1;
        } else {
            int done = 0;
            if (t->byte_fallback) {
                size_t k;
                for (k = 0; k < cl && t->byte_id[(uint8_t)p[i + k]] >= 0; k++) {}
                if (k == cl) {
                    for (k = 0; k < cl; k++)
                        if (add_sym(s, &ns, t->byte_id[(uint8_t)p[i + k]], (uint32_t)(i + k), 1)) return -1;
                    done = 1;
                }
            }
            if (!done && t->unk_id >= 0) {
                if (unk >= 0 && t->fuse_unk) unk_len += (uint32_t)cl;
                else {
                    if (unk >= 0 && add_sym(s, &ns, unk, unk_start, unk_len)) return -1;
                    unk = t->unk_id;
                    unk_start = (uint32_t)i;
                    unk_len = (uint32_t)cl;
                }
            }
            // No byte fallback and no unk token: HF drops the character.
        }
        i += cl;
    }
    if (unk >= 0 && add_sym(s, &ns, unk, unk_start, unk_len)) return -1;
    if (!ns) return 0;
    s->sym[ns - 1].next = -1;
    s->heap_n = 0;
    for (size_t i = 0; i + 1 < ns; i++) {
        const TokMerge *m = tok_find_merge(t, s->sym[i].id, s->sym[i + 1].id);
        if (m && heap_push(s, (Cand){(float)m->rank, (int32_t)i, 0, m->id, 0}, 0)) return -1;
    }
    // Ranks up to 2^24 are exact in a float; real merge lists are < 1M long.
    while (s->heap_n) {
        Cand c = heap_pop(s, 0);
        Sym *l = &s->sym[c.pos];
        if (!l->len || l->next < 0) continue;
        Sym *r = &s->sym[l->next];
        const TokMerge *m = tok_find_merge(t, l->id, r->id);
        if (!m || m->id != c.id) continue; // stale entry
        l->id = c.id;
        l->len += r->len;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0) s->sym[r->next].prev = c.pos;
        if (l->prev >= 0) {
            m = tok_find_merge(t, s->sym[l->prev].id, l->id);
            if (m && heap_push(s, (Cand){(float)m->rank, l->prev, 0, m->id, 0}, 0)) return -1;
        }
        if (l->next >= 0) {
            m = tok_find_merge(t, l->id, s->sym[l->next].id);
            if (m && heap_push(s, (Cand){(float)m->rank, c.pos, 0, m->id, 0}, 0)) return -1;
        }
    }
    for (int32_t i = 0; i >= 0; i = s->sym[i].next)
        if (tok_ids_push(out, s->sym[i].id)) return -1;
    return 0;
}

// ---------------------------------------------------------------- score BPE

// Vocabulary pieces SentencePiece merges into: normal, user-defined, unused
// (control, unknown and byte pieces are reserved and never formed by merging).
static int32_t spm_piece(const Tokenizer *t, const char *p, size_t n) {
    int32_t id = tok_map_get(&t->vocab, p, n, -1);
    if (id < 0) return -1;
    int ty = t->tok[id].type;
    return (ty == TT_NORMAL || ty == TT_USER || ty == TT_UNUSED) ? id : -1;
}

static int spm_try_pair(const Tokenizer *t, TokScratch *s, const char *p, int32_t li, int32_t ri) {
    if (li < 0 || ri < 0) return 0;
    const Sym *l = &s->sym[li], *r = &s->sym[ri];
    uint32_t size = l->len + r->len;
    int32_t id = spm_piece(t, p + l->start, size);
    if (id < 0) return 0;
    if (t->tok[id].type == TT_UNUSED) {
        // Remember how an unused piece was formed, to split it again at the end.
        if (grow((void **)&s->rev, &s->rev_cap, s->rev_n + 1, sizeof(RevMerge))) return -1;
        s->rev[s->rev_n++] = (RevMerge){l->start, size, l->start, l->len, r->start, r->len};
    }
    return heap_push(s, (Cand){t->tok[id].score, li, ri, id, size}, 1);
}

static int spm_emit(const Tokenizer *t, TokScratch *s, const char *p, uint32_t start, uint32_t len, TokIds *out,
                    int depth) {
    int32_t id = spm_piece(t, p + start, len);
    if (id >= 0 && t->tok[id].type == TT_UNUSED && depth < 64) {
        for (size_t k = s->rev_n; k-- > 0;) {
            RevMerge *rv = &s->rev[k];
            if (rv->wl == len && !memcmp(p + rv->w, p + start, len)) {
                uint32_t l = rv->l, ll = rv->ll, r = rv->r, rl = rv->rl;
                if (spm_emit(t, s, p, l, ll, out, depth + 1)) return -1;
                return spm_emit(t, s, p, r, rl, out, depth + 1);
            }
        }
    }
    if (id >= 0) return tok_ids_push(out, id);
    // Unknown: its UTF-8 bytes as <0xNN> pieces, else the unknown id.
    if (t->byte_fallback) {
        for (uint32_t k = 0; k < len; k++)
            if (tok_ids_push(out, t->byte_id[(uint8_t)p[start + k]] >= 0 ? t->byte_id[(uint8_t)p[start + k]] : t->unk_id))
                return -1;
        return 0;
    }
    return t->unk_id >= 0 ? tok_ids_push(out, t->unk_id) : 0;
}

static int bpe_score(const Tokenizer *t, TokScratch *s, const char *p, size_t n, TokIds *out) {
    size_t ns = 0;
    for (size_t i = 0; i < n;) {
        size_t cl = (size_t)utf8_len((uint8_t)p[i]);
        if (i + cl > n) cl = n - i;
        if (add_sym(s, &ns, -1, (uint32_t)i, (uint32_t)cl)) return -1;
        i += cl;
    }
    if (!ns) return 0;
    s->sym[ns - 1].next = -1;
    s->heap_n = 0;
    s->rev_n = 0;
    for (size_t i = 0; i + 1 < ns; i++)
        if (spm_try_pair(t, s, p, (int32_t)i, (int32_t)i + 1)) return -1;
    while (s->heap_n) {
        Cand c = heap_pop(s, 1);
        Sym *l = &s->sym[c.pos], *r = &s->sym[c.right];
        if (!l->len || !r->len || l->len + r->len != c.size) continue; // stale
        l->len += r->len;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0) s->sym[r->next].prev = c.pos;
        if (spm_try_pair(t, s, p, l->prev, c.pos) || spm_try_pair(t, s, p, c.pos, l->next)) return -1;
    }
    for (int32_t i = 0; i >= 0; i = s->sym[i].next)
        if (spm_emit(t, s, p, s->sym[i].start, s->sym[i].len, out, 0)) return -1;
    return 0;
}

int tok_model_piece(const Tokenizer *t, TokScratch *s, const char *p, size_t n, TokIds *out) {
    if (!n) return 0;
    return t->model == TOK_MODEL_SPM ? bpe_score(t, s, p, n, out) : bpe_rank(t, s, p, n, out);
}
