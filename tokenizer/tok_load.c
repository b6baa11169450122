// Building a Tokenizer: the entry table, merge table, added-token index and
// regex compilation shared by every loader; tok_load picks the loader.
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "tokenizer/tok_internal.h"
#include "tokenizer/unicode.h"
#include "util/fileio.h"

Tokenizer *tok_new(void) {
    static _Atomic uint64_t serial;
    Tokenizer *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->serial = ++serial;
    t->bos_id = t->eos_id = t->unk_id = -1;
    for (int i = 0; i < 256; i++) t->byte_id[i] = t->single[i] = -1;
    if (tok_map_init(&t->vocab, 0) || tok_map_init(&t->stored, 0)) { tok_free(t); return NULL; }
    return t;
}

uint32_t tok_arena_add(Tokenizer *t, const char *s, size_t len) {
    if (t->arena_len + len + 1 > t->arena_cap) {
        size_t nc = t->arena_cap ? t->arena_cap : 1 << 16;
        while (nc < t->arena_len + len + 1) nc *= 2;
        if (nc > UINT32_MAX) return UINT32_MAX;
        char *na = realloc(t->arena, nc);
        if (!na) return UINT32_MAX;
        t->arena = na;
        t->arena_cap = nc;
    }
    uint32_t off = (uint32_t)t->arena_len;
    if (len) memcpy(t->arena + off, s, len);
    t->arena[off + len] = 0;
    t->arena_len += len + 1;
    return off;
}

int tok_reserve(Tokenizer *t, int32_t n) {
    if (n <= t->n_vocab) return 0;
    TokEntry *nt = realloc(t->tok, (size_t)n * sizeof *nt);
    if (!nt) return -1;
    memset(nt + t->n_vocab, 0, (size_t)(n - t->n_vocab) * sizeof *nt);
    t->tok = nt;
    t->n_vocab = n;
    return 0;
}

int tok_set(Tokenizer *t, int32_t id, const char *str, size_t len, const char *piece, size_t plen,
            float score, int type, int flags) {
    if (tok_set_entry(t, id, str, len, piece, plen, score, type, flags)) return -1;
    return tok_map_put(&t->stored, str, len, id) < 0 ? -1 : 0;
}

int tok_set_entry(Tokenizer *t, int32_t id, const char *str, size_t len, const char *piece, size_t plen,
                  float score, int type, int flags) {
    if (id < 0 || tok_reserve(t, id + 1)) return -1;
    TokEntry *en = &t->tok[id];
    uint32_t so = tok_arena_add(t, str, len);
    if (so == UINT32_MAX) return -1;
    uint32_t po = so;
    if (piece) {
        po = tok_arena_add(t, piece, plen);
        if (po == UINT32_MAX) return -1;
    } else plen = len;
    *en = (TokEntry){so, (uint32_t)len, po, (uint32_t)plen, score, (uint8_t)type, (uint8_t)flags};
    return 0;
}

long tok_bytelevel_decode(const char *s, size_t len, char *out) {
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0;
    long n = 0;
    while (i < len) {
        int adv;
        int ok = 0;
        if (utf8_valid_seq(u + i, len - i, &adv)) {
            uint32_t cp = utf8_decode(u + i, len - i, &adv);
            int b = bytelevel_byte(cp);
            if (b >= 0) { out[n++] = (char)b; ok = 1; }
        }
        if (!ok) return -1;
        i += (size_t)adv;
    }
    return n;
}

int tok_byte_token(const char *s, size_t len) {
    if (len != 6 || memcmp(s, "<0x", 3) || s[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

static inline size_t merge_hash(uint64_t k, size_t cap) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k & (cap - 1);
}

static int merges_grow(Tokenizer *t, size_t cap) {
    TokMerge *nm = malloc(cap * sizeof *nm);
    if (!nm) return -1;
    for (size_t i = 0; i < cap; i++) nm[i].key = UINT64_MAX;
    for (size_t i = 0; i < t->merge_cap; i++) {
        if (t->merges[i].key == UINT64_MAX) continue;
        size_t j = merge_hash(t->merges[i].key, cap);
        while (nm[j].key != UINT64_MAX) j = (j + 1) & (cap - 1);
        nm[j] = t->merges[i];
    }
    free(t->merges);
    t->merges = nm;
    t->merge_cap = cap;
    return 0;
}

int tok_merges_reserve(Tokenizer *t, size_t n) {
    size_t cap = t->merge_cap ? t->merge_cap : 1024;
    while (cap < n * 2 + 2) cap *= 2;
    return cap == t->merge_cap ? 0 : merges_grow(t, cap);
}

int tok_add_merge(Tokenizer *t, int32_t a, int32_t b, int32_t rank, int32_t id) {
    if ((t->merge_n + 1) * 2 > t->merge_cap && merges_grow(t, t->merge_cap ? t->merge_cap * 2 : 1024)) return -1;
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    size_t j = merge_hash(key, t->merge_cap);
    while (t->merges[j].key != UINT64_MAX && t->merges[j].key != key) j = (j + 1) & (t->merge_cap - 1);
    // A pair listed twice keeps its last rank, as HF's HashMap built from the
    // merge list in order does.
    int dup = t->merges[j].key == key;
    t->merges[j] = (TokMerge){key, rank, id};
    if (!dup) t->merge_n++;
    return dup;
}

void tok_prefetch_merge(const Tokenizer *t, int32_t a, int32_t b) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    __builtin_prefetch(&t->merges[merge_hash(key, t->merge_cap)], 1);
}

const TokMerge *tok_find_merge(const Tokenizer *t, int32_t a, int32_t b) {
    if (!t->merge_cap) return NULL;
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    size_t j = merge_hash(key, t->merge_cap);
    for (;;) {
        const TokMerge *m = &t->merges[j];
        if (m->key == key) return m;
        if (m->key == UINT64_MAX) return NULL;
        j = (j + 1) & (t->merge_cap - 1);
    }
}

static int cmp_added(const void *pa, const void *pb, void *ctx) {
    const Tokenizer *sort_t = ctx;
    const TokEntry *a = &sort_t->tok[*(const int32_t *)pa], *b = &sort_t->tok[*(const int32_t *)pb];
    uint8_t fa = (uint8_t)sort_t->arena[a->str], fb = (uint8_t)sort_t->arena[b->str];
    if (fa != fb) return fa < fb ? -1 : 1;
    if (a->slen != b->slen) return a->slen > b->slen ? -1 : 1;
    return *(const int32_t *)pa < *(const int32_t *)pb ? -1 : 1;
}

// 1 if s has no U+2581 right after another character (a leading run is fine).
static int no_inner_space_mark(const char *s, size_t n) {
    for (size_t i = 1; i + 3 <= n; i++)
        if (!memcmp(s + i, "\xE2\x96\x81", 3) && (i < 3 || memcmp(s + i - 3, "\xE2\x96\x81", 3))) return 0;
    return 1;
}

int tok_finish(Tokenizer *t, QrErr *e) {
    int n = 0;
    for (int32_t i = 0; i < t->n_vocab; i++)
        if ((t->tok[i].flags & TF_ADDED) && t->tok[i].slen) n++;
    t->added = malloc((size_t)(n ? n : 1) * sizeof *t->added);
    if (!t->added) return qr_fail(e, "out of memory");
    n = 0;
    t->any_normalized_added = 0;
    for (int32_t i = 0; i < t->n_vocab; i++)
        if ((t->tok[i].flags & TF_ADDED) && t->tok[i].slen) {
            t->added[n++] = i;
            if (t->tok[i].flags & TF_NORMALIZED) t->any_normalized_added = 1;
        }
    qsort_r(t->added, (size_t)n, sizeof *t->added, cmp_added, t);
    t->n_added = n;
    int k = 0;
    for (int b = 0; b <= 256; b++) {
        while (k < n && (uint8_t)t->arena[t->tok[t->added[k]].str] < b) k++;
        t->added_first[b] = k;
    }
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        t->byte_id[b] = tok_map_get(&t->stored, name, 6, -1);
        if (t->bytelevel) {
            char c = (char)b;
            t->single[b] = tok_map_get(&t->vocab, &c, 1, -1);
        }
    }
    if (t->n_vocab <= 0) return qr_fail(e, "empty vocabulary");
    for (int k = 0; k < n && !t->word_re; k++)
        if (t->tok[t->added[k]].flags & TF_SINGLE_WORD) {
            static const char w[] = "[\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{200C}\\x{200D}]";
            if (!(t->word_re = tok_regex(w, sizeof w - 1, e, "single_word"))) return -1;
        }
    // Text that reaches the model whole (no pre-tokenizer) with spaces written
    // as U+2581 (SentencePiece; HF Llama/Mistral files) can be cut before
    // every U+2581 that follows another character when no token has such a
    // U+2581 inside: then no merge ever spans the cut, and the merges on
    // either side do not interact (merge order only matters between
    // overlapping pairs). ignore_merges and subword affixes change what a
    // piece gives, so they rule it out.
    // "▁" itself must be a token (else unknown-character fusing could span the cut).
    if (t->n_pre == 0 && !t->ignore_merges && !t->cont_prefix && !t->word_suffix &&
        tok_map_get(&t->vocab, "\xE2\x96\x81", 3, -1) >= 0) {
        int ok = 0;
        for (int32_t i = 0; i < t->n_vocab && !ok; i++)
            if (!no_inner_space_mark(t->arena + t->tok[i].str, t->tok[i].slen)) ok = -1;
        t->split_at_space_mark = ok == 0;
    }
    return 0;
}


void tok_free(Tokenizer *t) {
    if (!t) return;
    for (int i = 0; i < t->n_norm; i++) {
        free(t->norm[i].a);
        free(t->norm[i].b);
        pcre2_code_free(t->norm[i].re);
    }
    for (int i = 0; i < t->n_pre; i++) pcre2_code_free(t->pre[i].re);
    pcre2_code_free(t->word_re);
    free(t->norm);
    free(t->pre);
    free(t->tok);
    free(t->arena);
    free(t->merges);
    free(t->added);
    free(t->prefix_ids);
    free(t->suffix_ids);
    free(t->eog);
    free(t->cont_prefix);
    free(t->word_suffix);
    tok_map_free(&t->vocab);
    tok_map_free(&t->stored);
    free(t);
}

// generation_config.json's eos_token_id (an int or a list) adds end-of-generation ids.
static void load_generation_config(Tokenizer *t, const char *dir) {
    char p[4096];
    if (snprintf(p, sizeof p, "%s/generation_config.json", dir) >= (int)sizeof p) return;
    if (!qr_file_exists(p)) return;
    json_t *j = json_load_file(p, 0, NULL);
    if (!j) return;
    json_t *v = json_object_get(j, "eos_token_id");
    size_t n = json_is_array(v) ? json_array_size(v) : json_is_integer(v) ? 1 : 0;
    if (n) {
        int32_t *ne = realloc(t->eog, (size_t)(t->n_eog + (int)n) * sizeof *ne);
        if (ne) {
            t->eog = ne;
            for (size_t i = 0; i < n; i++) {
                json_t *x = json_is_array(v) ? json_array_get(v, i) : v;
                if (json_is_integer(x) && json_integer_value(x) >= 0 && json_integer_value(x) < t->n_vocab)
                    t->eog[t->n_eog++] = (int32_t)json_integer_value(x);
            }
        }
    }
    json_decref(j);
}

// dir + "/" + name into out (paths were checked to be short enough).
static void join(char *out, size_t n, const char *dir, const char *name) {
    if (snprintf(out, n, "%s/%s", dir, name) >= (int)n) out[0] = 0;
}

// Loads one file, whatever its kind (told apart by content; gzip-compressed
// files are decompressed first).
static int load_file(Tokenizer *t, const char *path, const char *cfg, QrErr *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return qr_fail(e, "%s: cannot open", path);
    char magic[4] = {0};
    size_t got = fread(magic, 1, 4, f);
    fclose(f);
    // A (possibly multi-GB) model GGUF is mapped, not read.
    if (got == 4 && !memcmp(magic, "GGUF", 4)) return tok_load_gguf(t, path, NULL, 0, e);
    char *buf;
    size_t len;
    if (qr_read_file(path, &buf, &len, e)) return -1;
    size_t i = 0;
    while (i < len && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t')) i++;
    int rc;
    if (len >= 4 && !memcmp(buf, "GGUF", 4)) rc = tok_load_gguf(t, path, (const uint8_t *)buf, len, e);
    else if (i < len && (buf[i] == '{' || buf[i] == '[')) rc = tok_load_json(t, path, buf, len, cfg, e);
    else {
        rc = tok_load_spm(t, path, (const uint8_t *)buf, len, e);
        if (!rc && cfg) rc = tok_apply_config(t, cfg, e);
    }
    free(buf);
    return rc;
}

int tok_load(Tokenizer **out, const char *path, QrErr *e) {
    *out = NULL;
    if (strlen(path) > 4000) return qr_fail(e, "%.100s...: path too long", path);
    Tokenizer *t = tok_new();
    if (!t) return qr_fail(e, "out of memory");
    char file[4096], cfg[4096], dir[4096];
    if (qr_is_dir(path)) {
        snprintf(dir, sizeof dir, "%s", path);
        // tokenizer.json (or a gzip-compressed tokenizer.json.gz), else tokenizer.model
        join(file, sizeof file, dir, "tokenizer.json");
        if (!qr_file_exists(file)) join(file, sizeof file, dir, "tokenizer.json.gz");
        if (!qr_file_exists(file)) join(file, sizeof file, dir, "tokenizer.model");
        if (!qr_file_exists(file)) {
            tok_free(t);
            return qr_fail(e, "%s: no tokenizer.json or tokenizer.model in this directory", path);
        }
    } else {
        snprintf(file, sizeof file, "%s", path);
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        else snprintf(dir, sizeof dir, ".");
    }
    // The tokenizer_config.json beside a tokenizer.json says BOS/EOS.
    join(cfg, sizeof cfg, dir, "tokenizer_config.json");
    int rc = load_file(t, file, qr_file_exists(cfg) && strcmp(cfg, file) ? cfg : NULL, e);
    if (!rc) rc = tok_finish(t, e);
    if (rc) { tok_free(t); return -1; }
    if (t->eos_id >= 0) {
        t->eog = malloc(sizeof *t->eog);
        if (t->eog) t->eog[t->n_eog++] = t->eos_id;
    }
    load_generation_config(t, dir);
    *out = t;
    return 0;
}

int32_t tok_n_vocab(const Tokenizer *t) { return t->n_vocab; }
int32_t tok_bos(const Tokenizer *t) { return t->bos_id; }
int32_t tok_eos(const Tokenizer *t) { return t->eos_id; }
const char *tok_describe(const Tokenizer *t) { return t->desc; }

int tok_is_eog(const Tokenizer *t, int32_t id) {
    for (int i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id) return 1;
    return 0;
}

int tok_is_special(const Tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_vocab && (t->tok[id].flags & TF_SPECIAL);
}

const char *tok_token_str(const Tokenizer *t, int32_t id) {
    if (id < 0 || id >= t->n_vocab || t->tok[id].type == TT_NONE) return NULL;
    return t->arena + t->tok[id].str;
}

int32_t tok_find(const Tokenizer *t, const char *s) {
    return tok_map_get(&t->stored, s, strlen(s), -1);
}

const char *tok_piece(const Tokenizer *t, int32_t id, size_t *len) {
    if (id < 0 || id >= t->n_vocab || t->tok[id].type == TT_NONE) { *len = 0; return NULL; }
    *len = t->tok[id].plen;
    return t->arena + t->tok[id].piece;
}
