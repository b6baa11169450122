// mBART-50's tokenizer (transformers' MBart50Tokenizer) and translation glue
// (attacks/mbart.h).
//
// From sentencepiece.bpe.model the vocabulary is laid out as
// MBart50Tokenizer / MBart50Converter do (fairseq ids): <s>=0 <pad>=1 </s>=2
// <unk>=3, then the SentencePiece pieces from id 3 on (spm id i -> i + 1),
// then the 52 language codes, then <mask>; all with score 0 except the
// SentencePiece pieces. The pipeline: Precompiled(charsmap) ->
// Replace(" {2,}" -> " ") -> Metaspace(always, split) -> Unigram(unk 3); the
// special tokens are matched in the raw text (<mask> eating the whitespace on
// its left). Encoding for source language L is [L] text </s>.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "attacks/mbart.h"
#include "util/fileio.h"

const char *const mbart_langs[MBART_N_LANGS] = {
    "ar_AR", "cs_CZ", "de_DE", "en_XX", "es_XX", "et_EE", "fi_FI", "fr_XX", "gu_IN", "hi_IN", "it_IT",
    "ja_XX", "kk_KZ", "ko_KR", "lt_LT", "lv_LV", "my_MM", "ne_NP", "nl_XX", "ro_RO", "ru_RU", "si_LK",
    "tr_TR", "vi_VN", "zh_CN", "af_ZA", "az_AZ", "bn_IN", "fa_IR", "he_IL", "hr_HR", "id_ID", "ka_GE",
    "km_KH", "mk_MK", "ml_IN", "mn_MN", "mr_IN", "pl_PL", "ps_AF", "pt_XX", "sv_SE", "sw_KE", "ta_IN",
    "te_IN", "th_TH", "tl_XX", "uk_UA", "ur_PK", "xh_ZA", "gl_ES", "sl_SI",
};

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static int from_spm(QrUnigram *u, const char *path, QrErr *e) {
    QrSpmModel sp;
    if (qr_spm_read(&sp, path, e)) return -1;
    int rc = -1;
    if (sp.model_type != 1) {
        qr_fail(e, "%s: trainer_spec.model_type %d is not a unigram model", path, sp.model_type);
        goto out;
    }
    if (sp.n < 4) {
        qr_fail(e, "%s: %d pieces is too few for an mBART vocabulary", path, sp.n);
        goto out;
    }
    static const char *const head[4] = {"<s>", "<pad>", "</s>", "<unk>"};
    for (int i = 0; i < 4; i++)
        if (qr_uni_add(u, head[i], strlen(head[i]), 0.0, QR_UNI_ADDED | QR_UNI_SPECIAL, e)) goto out;
    for (int i = 3; i < sp.n; i++) {
        // Control / user-defined pieces become added tokens (special if control), as HF's extractor does.
        unsigned f = sp.pieces[i].type == 3 ? QR_UNI_ADDED | QR_UNI_SPECIAL : sp.pieces[i].type == 4 ? QR_UNI_ADDED : 0;
        if (qr_uni_add(u, sp.pieces[i].piece, strlen(sp.pieces[i].piece), sp.pieces[i].score, f, e)) goto out;
    }
    for (int i = 0; i < MBART_N_LANGS; i++)
        if (qr_uni_add(u, mbart_langs[i], strlen(mbart_langs[i]), 0.0, QR_UNI_ADDED | QR_UNI_SPECIAL, e)) goto out;
    if (qr_uni_add(u, "<mask>", 6, 0.0, QR_UNI_ADDED | QR_UNI_SPECIAL | QR_UNI_LSTRIP, e)) goto out;
    u->unk_id = 3;
    if (sp.charsmap && qr_uni_set_charsmap(u, sp.charsmap, sp.charsmap_len, path, e)) goto out;
    snprintf(u->collapse, sizeof u->collapse, " ");
    u->has_collapse = 1;
    u->prepend = QR_UNI_PREPEND_ALWAYS;
    u->split = 1;
    snprintf(u->desc, sizeof u->desc, "sentencepiece.bpe.model unigram (%s), %d ids", sp.norm_name, u->n);
    rc = qr_uni_finish(u, e);
out:
    qr_spm_free(&sp);
    return rc;
}

// tokenizer_config.json beside the tokenizer: clean_up_tokenization_spaces (default false, transformers 5).
static int read_tok_config(QrUnigram *u, const char *dir, QrErr *e) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/tokenizer_config.json", dir) >= (int)sizeof path || !qr_file_exists(path))
        return 0;
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) return qr_fail(e, "%s: line %d: %s", path, je.line, je.text);
    const json_t *c = json_object_get(j, "clean_up_tokenization_spaces");
    int rc = 0;
    if (c && !json_is_null(c) && !json_is_boolean(c))
        rc = qr_fail(e, "%s: \"clean_up_tokenization_spaces\" is not a boolean", path);
    u->clean_up_spaces = json_is_true(c);
    json_decref(j);
    return rc;
}

int mbart_tok_load(MbartTok *t, const char *path, QrErr *e) {
    memset(t, 0, sizeof *t);
    char file[4096], dir[4096];
    const char *kind;
    if (qr_is_dir(path)) {
        if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir ||
            snprintf(file, sizeof file, "%s/tokenizer.json", path) >= (int)sizeof file)
            return qr_fail(e, "%.200s...: path too long", path);
        kind = "tokenizer.json";
        if (!qr_file_exists(file)) {
            if (snprintf(file, sizeof file, "%s/sentencepiece.bpe.model", path) >= (int)sizeof file)
                return qr_fail(e, "%.200s...: path too long", path);
            kind = "sentencepiece.bpe.model";
            if (!qr_file_exists(file))
                return qr_fail(e, "%s: no tokenizer.json or sentencepiece.bpe.model in the translator directory", path);
        }
    } else {
        if (snprintf(file, sizeof file, "%s", path) >= (int)sizeof file)
            return qr_fail(e, "%.200s...: path too long", path);
        snprintf(dir, sizeof dir, "%s", file);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        else snprintf(dir, sizeof dir, ".");
        kind = ends_with(path, ".json") || ends_with(path, ".json.gz") ? "tokenizer.json" : "sentencepiece.bpe.model";
    }
    snprintf(t->source, sizeof t->source, "%s", kind);
    int rc;
    if (!strcmp(kind, "tokenizer.json")) {
        rc = qr_uni_load_json(&t->uni, file, e);
    } else {
        t->uni = qr_uni_new();
        rc = t->uni ? from_spm(t->uni, file, e) : qr_fail(e, "out of memory");
    }
    if (!rc) rc = read_tok_config(t->uni, dir, e);
    if (!rc && (t->eos = qr_uni_find(t->uni, "</s>")) < 0) rc = qr_fail(e, "%s: no </s> in the vocabulary", file);
    for (int i = 0; !rc && i < MBART_N_LANGS; i++)
        if (qr_uni_find(t->uni, mbart_langs[i]) < 0)
            rc = qr_fail(e, "%s: language code %s is not in the vocabulary (not an mBART-50 tokenizer)", file, mbart_langs[i]);
    if (rc) mbart_tok_free(t);
    return rc;
}

void mbart_tok_free(MbartTok *t) {
    qr_uni_free(t->uni);
    memset(t, 0, sizeof *t);
}

int32_t mbart_lang_id(const MbartTok *t, const char *code) {
    for (int i = 0; i < MBART_N_LANGS; i++)
        if (!strcmp(code, mbart_langs[i])) return qr_uni_find(t->uni, code);
    return -1;
}

int mbart_tok_encode(const MbartTok *t, const char *text, size_t len, const char *lang, int32_t **ids, size_t *n,
                     QrErr *e) {
    int32_t l = mbart_lang_id(t, lang);
    *ids = NULL;
    *n = 0;
    if (l < 0) return qr_fail(e, "mbart: '%s' is not an mBART-50 language code (e.g. en_XX, de_DE)", lang);
    int32_t *v = malloc(sizeof *v);
    if (!v) return qr_fail(e, "out of memory");
    v[0] = l;
    size_t m = 1;
    if (qr_uni_encode(t->uni, text, len, &v, &m, e)) {
        free(v);
        return -1;
    }
    int32_t *w = realloc(v, (m + 1) * sizeof *w);
    if (!w) {
        free(v);
        return qr_fail(e, "out of memory");
    }
    w[m++] = t->eos;
    *ids = w;
    *n = m;
    return 0;
}

char *mbart_tok_decode(const MbartTok *t, const int32_t *ids, size_t n, int skip_special, QrErr *e) {
    return qr_uni_decode(t->uni, ids, n, skip_special, e);
}

// ---- translation ----

int mbart_translator_load(MbartTranslator **out, const char *dir, QrErr *e) {
    *out = NULL;
    if (!qr_is_dir(dir)) return qr_fail(e, "%s: not a directory (the translator is an mBART-50 checkpoint directory)", dir);
    MbartTranslator *t = calloc(1, sizeof *t);
    if (!t) return qr_fail(e, "out of memory");
    if (mbart_load(&t->model, dir, e) || mbart_tok_load(&t->tok, dir, e)) {
        mbart_translator_free(t);
        return -1;
    }
    if (t->tok.uni->n != t->model->cfg.vocab_size) {
        qr_fail(e, "%s: the tokenizer has %d ids but config.json vocab_size is %d", dir, t->tok.uni->n,
                t->model->cfg.vocab_size);
        mbart_translator_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

void mbart_translator_free(MbartTranslator *t) {
    if (!t) return;
    mbart_free(t->model);
    mbart_tok_free(&t->tok);
    free(t);
}

char *mbart_translate(const MbartTranslator *t, const char *text, const char *src, const char *tgt, QrErr *e) {
    int32_t tgt_id = mbart_lang_id(&t->tok, tgt);
    if (tgt_id < 0) {
        qr_fail(e, "mbart: '%s' is not an mBART-50 language code (e.g. en_XX, de_DE)", tgt);
        return NULL;
    }
    int32_t *ids, *gen;
    size_t n;
    int ng;
    if (mbart_tok_encode(&t->tok, text, strlen(text), src, &ids, &n, e)) return NULL;
    int rc = mbart_generate(t->model, &t->model->gen, ids, (int)n, tgt_id, &gen, &ng, e);
    free(ids);
    if (rc) return NULL;
    char *s = mbart_tok_decode(&t->tok, gen, (size_t)ng, 1, e);
    free(gen);
    return s;
}
