// Vocabularies embedded in GGUF files (llama.cpp's convert_hf_to_gguf.py
// writes them): tokenizer.ggml.model "llama" = SentencePiece BPE (pieces with
// scores and types), "gpt2" = byte-level BPE (tokens in the GPT-2 alphabet,
// merges "a b" in rank order, the pre-tokenizer named by tokenizer.ggml.pre).
// Token types follow llama.cpp: 1 normal, 2 unknown, 3 control,
// 4 user-defined, 5 unused, 6 byte. Control and user-defined tokens are matched
// in the text before the model (control ones only when special tokens are
// parsed), as llama.cpp and HF do; their text is stored raw, not in the
// byte-level alphabet.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer/tok_internal.h"
#include "weights/gguf.h"

// The pre-tokenizers of the families llama.cpp names in tokenizer.ggml.pre,
// written as the Hugging Face tokenizer.json of each family has them (the
// regexes are those files' patterns; llama.cpp's llama-vocab.cpp lists the
// same ones).
typedef struct {
    int kind; // PT_SPLIT (regex, Isolated), PT_BYTELEVEL (re: use_regex)
    const char *re;
    int behavior;
} PreStep;

const char TOK_GPT2_REGEX[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
#define LLAMA3_RE "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define QWEN2_RE "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define BL_RE {PT_BYTELEVEL, TOK_GPT2_REGEX, 0}
#define BL {PT_BYTELEVEL, NULL, 0}
#define SPLIT(r) {PT_SPLIT, r, SPLIT_ISOLATED}
#define DIGIT1 {PT_SPLIT, "\\p{N}", SPLIT_ISOLATED}
#define DIGITS {PT_SPLIT, "\\p{N}", SPLIT_CONTIGUOUS}

static const struct {
    const char *names; // space-separated tokenizer.ggml.pre values
    PreStep steps[8];
} PRE[] = {
    {" default gpt-2 gpt2 mpt olmo jais trillion ", {BL_RE}},
    {" llama3 llama-bpe dbrx smaug-bpe falcon3 ", {SPLIT(LLAMA3_RE), BL}},
    {" qwen2 stablelm2 hunyuan ", {SPLIT(QWEN2_RE), BL}},
    {" starcoder refact smollm codeshell command-r exaone minerva-7b ", {DIGIT1, BL_RE}},
    {" deepseek-coder ",
     {SPLIT("[\\r\\n]"), SPLIT("\\s?\\p{L}+"), SPLIT("\\s?\\p{P}+"),
      SPLIT("[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+"), DIGIT1, BL}},
    {" deepseek-llm ",
     {SPLIT("[\\r\\n]"),
      SPLIT("\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af"
            "\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5"
            "\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba"
            "\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45"
            "\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe"
            "\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc"
            "\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139"
            "\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3"
            "\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06"
            "\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\U00010400-\U0001044f\U000104b0-\U000104d3"
            "\U000104d8-\U000104fb\U00010c80-\U00010cb2\U00010cc0-\U00010cf2\U000118a0-\U000118df"
            "\U0001e900-\U0001e943]+"),
      SPLIT("\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+"), SPLIT("\\s+$"),
      SPLIT("[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+"), DIGITS, BL}},
    {" deepseek-v3 ",
     {SPLIT("\\p{N}{1,3}"), SPLIT("[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+"),
      SPLIT("[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
            " ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"),
      BL}},
};

int tok_gguf_pretok(Tokenizer *t, const char *pre, QrErr *e) {
    char key[80];
    snprintf(key, sizeof key, " %.60s ", pre);
    for (size_t i = 0; i < sizeof PRE / sizeof PRE[0]; i++) {
        if (!strstr(PRE[i].names, key)) continue;
        int n = 0;
        while (n < 8 && PRE[i].steps[n].kind) n++;
        t->pre = calloc((size_t)n, sizeof *t->pre);
        if (!t->pre) return qr_fail(e, "out of memory");
        for (int k = 0; k < n; k++) {
            const PreStep *st = &PRE[i].steps[k];
            TokPretok *p = &t->pre[t->n_pre++];
            p->kind = st->kind;
            p->behavior = st->behavior;
            if (st->re && !(p->re = tok_regex(st->re, strlen(st->re), e, "tokenizer.ggml.pre"))) return -1;
        }
        return 0;
    }
    return qr_fail(e, "tokenizer.ggml.pre: unsupported pre-tokenizer '%s'", pre);
}

static int get_bool(const GgufFile *g, const char *key, int dflt) {
    const GgufKV *kv = gguf_find(g, key);
    if (!kv) return dflt;
    int64_t v;
    return gguf_get_int(g, key, &v, NULL) ? dflt : v != 0;
}

static int32_t get_id(const GgufFile *g, const char *key, int32_t n_vocab) {
    int64_t v;
    if (!gguf_find(g, key) || gguf_get_int(g, key, &v, NULL) || v < 0 || v >= n_vocab) return -1;
    return (int32_t)v;
}

static int load(Tokenizer *t, GgufFile *g, QrErr *e) {
    GgufStr model;
    if (gguf_get_str(g, "tokenizer.ggml.model", &model, e)) return -1;
    int spm = gguf_str_eq(model, "llama"), bpe = gguf_str_eq(model, "gpt2");
    if (!spm && !bpe)
        return qr_fail(e, "tokenizer.ggml.model: unsupported tokenizer '%.*s' (supported: llama, gpt2)",
                       (int)(model.len > 40 ? 40 : model.len), model.ptr);
    const GgufKV *toks, *scores = NULL, *types = NULL, *merges = NULL;
    if (gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_STRING, &toks, e)) return -1;
    if (toks->arr_n == 0 || toks->arr_n > INT32_MAX / 2) return qr_fail(e, "tokenizer.ggml.tokens: bad count %llu", (unsigned long long)toks->arr_n);
    int32_t n = (int32_t)toks->arr_n;
    const GgufKV *kv = gguf_find(g, "tokenizer.ggml.scores");
    if (kv) {
        if (kv->type != GGUF_ARRAY || kv->arr_type != GGUF_FLOAT32 || kv->arr_n != toks->arr_n)
            return qr_fail(e, "tokenizer.ggml.scores: expected %d float32 values", n);
        scores = kv;
    } else if (spm) return qr_fail(e, "tokenizer.ggml.scores: missing (needed by a 'llama' vocabulary)");
    kv = gguf_find(g, "tokenizer.ggml.token_type");
    if (kv) {
        if (kv->type != GGUF_ARRAY || (kv->arr_type != GGUF_INT32 && kv->arr_type != GGUF_UINT32) ||
            kv->arr_n != toks->arr_n)
            return qr_fail(e, "tokenizer.ggml.token_type: expected %d int32 values", n);
        types = kv;
    }
    if (bpe && gguf_get_arr(g, "tokenizer.ggml.merges", GGUF_STRING, &merges, e)) return -1;
    if (tok_reserve(t, n)) return qr_fail(e, "out of memory");
    t->model = TOK_MODEL_BPE;
    t->bytelevel = bpe;
    char *tmp = NULL;
    size_t tmp_cap = 0;
    for (int32_t i = 0; i < n; i++) {
        GgufStr s = toks->arr_strs[i];
        int type = types ? (int)gguf_arr_i(types, (uint64_t)i) : TT_NORMAL;
        if (type < TT_NORMAL || type > TT_BYTE) type = TT_NORMAL;
        float score = scores ? (float)gguf_arr_f(scores, (uint64_t)i) : 0.0f;
        if (spm) {
            if (tok_spm_piece(t, i, s.ptr, s.len, score, type)) { free(tmp); return qr_fail(e, "out of memory"); }
            continue;
        }
        if (s.len + 8 > tmp_cap) {
            tmp_cap = (s.len + 8) * 2;
            char *nt = realloc(tmp, tmp_cap);
            if (!nt) { free(tmp); return qr_fail(e, "out of memory"); }
            tmp = nt;
        }
        // Byte-level vocabulary: control and user-defined tokens are matched in
        // the text first (their text is stored raw); llama.cpp pads
        // vocabularies to the model's size with "[PAD<id>]" user-defined tokens
        // that HF does not have: never match those.
        char padname[32];
        snprintf(padname, sizeof padname, "[PAD%d]", i);
        int flags = 0;
        if ((type == TT_CONTROL || type == TT_USER || type == TT_UNKNOWN) && !gguf_str_eq(s, padname)) flags |= TF_ADDED;
        if (type == TT_CONTROL || type == TT_UNKNOWN) flags |= TF_SPECIAL;
        const char *piece = NULL;
        size_t plen = 0;
        if (type == TT_NORMAL || type == TT_UNUSED || type == TT_BYTE) {
            long m = tok_bytelevel_decode(s.ptr, s.len, tmp);
            if (m >= 0) {
                piece = tmp;
                plen = (size_t)m;
                if (tok_map_put(&t->vocab, tmp, (size_t)m, i) < 0) { free(tmp); return qr_fail(e, "out of memory"); }
            }
        }
        if (tok_set(t, i, s.ptr, s.len, piece, plen, score, type, flags)) { free(tmp); return qr_fail(e, "out of memory"); }
    }
    free(tmp);
    if (bpe) {
        for (uint64_t r = 0; r < merges->arr_n; r++) {
            GgufStr m = merges->arr_strs[r];
            const char *sp = memchr(m.ptr, ' ', m.len);
            if (!sp || sp == m.ptr || sp + 1 == m.ptr + m.len)
                return qr_fail(e, "tokenizer.ggml.merges[%llu]: expected 'left right'", (unsigned long long)r);
            size_t ll = (size_t)(sp - m.ptr);
            int32_t a = tok_map_get(&t->stored, m.ptr, ll, -1);
            int32_t b = tok_map_get(&t->stored, sp + 1, m.len - ll - 1, -1);
            // The merged token: look it up by its stored (byte-level) string.
            char *cat = malloc(m.len);
            if (!cat) return qr_fail(e, "out of memory");
            memcpy(cat, m.ptr, ll);
            memcpy(cat + ll, sp + 1, m.len - ll - 1);
            int32_t c = tok_map_get(&t->stored, cat, m.len - 1, -1);
            free(cat);
            if (a < 0 || b < 0 || c < 0)
                return qr_fail(e, "tokenizer.ggml.merges[%llu]: '%.*s' uses a token not in the vocabulary",
                               (unsigned long long)r, (int)(m.len > 60 ? 60 : m.len), m.ptr);
            if (tok_add_merge(t, a, b, (int32_t)r, c) < 0) return qr_fail(e, "out of memory");
        }
        GgufStr pre = {"default", 7};
        if (gguf_find(g, "tokenizer.ggml.pre") && gguf_get_str(g, "tokenizer.ggml.pre", &pre, e)) return -1;
        char pname[64];
        snprintf(pname, sizeof pname, "%.*s", (int)(pre.len > 60 ? 60 : pre.len), pre.ptr);
        if (tok_gguf_pretok(t, pname, e)) return -1;
        snprintf(t->desc, sizeof t->desc, "GGUF gpt2 (byte-level BPE, pre-tokenizer %s), %d tokens", pname, n);
    } else {
        tok_spm_setup(t, get_bool(g, "tokenizer.ggml.add_space_prefix", 1));
        snprintf(t->desc, sizeof t->desc, "GGUF llama (SentencePiece BPE), %d tokens", n);
    }
    t->bos_id = get_id(g, "tokenizer.ggml.bos_token_id", n);
    t->eos_id = get_id(g, "tokenizer.ggml.eos_token_id", n);
    t->unk_id = get_id(g, "tokenizer.ggml.unknown_token_id", n);
    if (t->unk_id < 0 && spm)
        for (int32_t i = 0; i < n; i++)
            if (t->tok[i].type == TT_UNKNOWN) { t->unk_id = i; break; }
    // llama.cpp's defaults: SentencePiece vocabularies add BOS, BPE ones do not.
    int add_bos = get_bool(g, "tokenizer.ggml.add_bos_token", spm);
    int add_eos = get_bool(g, "tokenizer.ggml.add_eos_token", 0);
    if (add_bos && t->bos_id >= 0) {
        t->prefix_ids = malloc(sizeof(int32_t));
        if (!t->prefix_ids) return qr_fail(e, "out of memory");
        t->prefix_ids[t->n_prefix++] = t->bos_id;
    }
    if (add_eos && t->eos_id >= 0) {
        t->suffix_ids = malloc(sizeof(int32_t));
        if (!t->suffix_ids) return qr_fail(e, "out of memory");
        t->suffix_ids[t->n_suffix++] = t->eos_id;
    }
    return 0;
}

int tok_load_gguf(Tokenizer *t, const char *path, const uint8_t *buf, size_t len, QrErr *e) {
    GgufFile g;
    if (buf ? gguf_parse(&g, buf, len, path, e) : gguf_open(&g, path, e)) return -1;
    int rc = load(t, &g, e);
    gguf_close(&g);
    if (rc) qr_err_prefix(e, "%s", path);
    return rc;
}
