// SentencePiece: the piece table shared by tokenizer.model and GGUF "llama"
// vocabularies, and a reader for tokenizer.model (a serialized
// sentencepiece.ModelProto; field numbers from sentencepiece_model.proto:
// ModelProto{1 pieces, 2 trainer_spec, 3 normalizer_spec},
// SentencePiece{1 piece, 2 score, 3 type}, TrainerSpec{3 model_type,
// 24 treat_whitespace_as_suffix, 25 split_digits, 35 byte_fallback,
// 40 unk_id, 41 bos_id, 42 eos_id}, NormalizerSpec{1 name,
// 2 precompiled_charsmap, 3 add_dummy_prefix, 4 remove_extra_whitespaces,
// 5 escape_whitespaces}).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer/protobuf.h"
#include "tokenizer/tok_internal.h"

int tok_spm_piece(Tokenizer *t, int32_t id, const char *s, size_t len, float score, int type) {
    if (type < TT_NORMAL || type > TT_BYTE) type = TT_NORMAL;
    // Control and unknown pieces are matched in text only when special tokens
    // are parsed (never by SentencePiece itself); user-defined ones always.
    int flags = 0;
    if (type == TT_CONTROL || type == TT_USER || type == TT_UNKNOWN) flags |= TF_ADDED;
    if (type == TT_CONTROL || type == TT_UNKNOWN) flags |= TF_SPECIAL;
    char *piece = NULL;
    size_t plen = 0;
    char byte;
    if (type == TT_NORMAL || type == TT_UNUSED) {
        // U+2581 (e2 96 81) stands for a space.
        piece = malloc(len + 1);
        if (!piece) return -1;
        for (size_t k = 0; k < len;) {
            if (k + 3 <= len && !memcmp(s + k, "\xE2\x96\x81", 3)) { piece[plen++] = ' '; k += 3; }
            else piece[plen++] = s[k++];
        }
    } else if (type == TT_BYTE) {
        int b = tok_byte_token(s, len);
        if (b >= 0) { byte = (char)b; plen = 1; }
    }
    if ((type == TT_NORMAL || type == TT_UNUSED || type == TT_USER) && tok_map_put(&t->vocab, s, len, id) < 0) {
        free(piece);
        return -1;
    }
    int rc = tok_set(t, id, s, len, piece ? piece : type == TT_BYTE && plen ? &byte : NULL, plen, score, type, flags);
    free(piece);
    return rc;
}

void tok_spm_setup(Tokenizer *t, int add_prefix) {
    t->model = TOK_MODEL_SPM;
    t->spm_escape = 1;
    t->spm_prefix = add_prefix;
    t->dec_strip_space = add_prefix;
    t->byte_fallback = 1;
}

int tok_load_spm(Tokenizer *t, const char *name, const uint8_t *buf, size_t len, QrErr *e) {
    Pb b = {buf, buf + len}, sub;
    uint32_t num;
    int wt;
    uint64_t v;
    int32_t n = 0;
    int model_type = 1, byte_fallback = 0, add_dummy = 1, remove_ws = 1, escape_ws = 1, suffix = 0, split_digits = 0;
    int64_t unk = 0, bos = 1, eos = 2;
    char norm_name[64] = "";
    size_t charsmap = 0;
    // Pass 1: count the pieces and read the specs (they may come after the pieces).
    while (b.p < b.end) {
        if (pb_field(&b, &num, &wt, &v, &sub)) return qr_fail(e, "%s: not a SentencePiece model (bad protobuf)", name);
        if (wt != 2) continue;
        if (num == 1) { n++; continue; }
        if (num != 2 && num != 3) continue;
        uint32_t msg = num;
        Pb x;
        while (sub.p < sub.end) {
            if (pb_field(&sub, &num, &wt, &v, &x))
                return qr_fail(e, "%s: %s: bad protobuf", name, msg == 2 ? "trainer_spec" : "normalizer_spec");
            if (msg == 2) {
                if (num == 3) model_type = (int)v;
                else if (num == 24) suffix = v != 0;
                else if (num == 25) split_digits = v != 0;
                else if (num == 35) byte_fallback = v != 0;
                else if (num == 40) unk = (int32_t)v;
                else if (num == 41) bos = (int32_t)v;
                else if (num == 42) eos = (int32_t)v;
            } else {
                if (num == 1 && wt == 2) snprintf(norm_name, sizeof norm_name, "%.*s", (int)(x.end - x.p > 60 ? 60 : x.end - x.p), (const char *)x.p);
                else if (num == 2 && wt == 2) charsmap = (size_t)(x.end - x.p);
                else if (num == 3) add_dummy = v != 0;
                else if (num == 4) remove_ws = v != 0;
                else if (num == 5) escape_ws = v != 0;
            }
        }
    }
    if (!n) return qr_fail(e, "%s: not a SentencePiece model (no pieces)", name);
    if (model_type != 2)
        return qr_fail(e, "%s: trainer_spec.model_type: unsupported SentencePiece model type %d (supported: 2 = BPE)", name, model_type);
    if (charsmap || (norm_name[0] && strcmp(norm_name, "identity")))
        return qr_fail(e, "%s: normalizer_spec.name: unsupported normalization '%s' (supported: identity)", name, norm_name);
    // split_digits only constrains training (no piece has two digits); encoding ignores it.
    (void)split_digits;
    if (remove_ws || !escape_ws || suffix)
        return qr_fail(e, "%s: %s: unsupported option", name,
                       remove_ws ? "normalizer_spec.remove_extra_whitespaces" : !escape_ws ? "normalizer_spec.escape_whitespaces"
                       : "trainer_spec.treat_whitespace_as_suffix");
    if (tok_reserve(t, n)) return qr_fail(e, "out of memory");
    b = (Pb){buf, buf + len};
    int32_t id = 0;
    while (b.p < b.end) {
        pb_field(&b, &num, &wt, &v, &sub);
        if (wt != 2 || num != 1) continue;
        const char *ps = NULL;
        size_t pl = 0;
        float score = 0;
        int type = TT_NORMAL;
        Pb x;
        while (sub.p < sub.end) {
            if (pb_field(&sub, &num, &wt, &v, &x)) return qr_fail(e, "%s: pieces[%d]: bad protobuf", name, id);
            if (num == 1 && wt == 2) { ps = (const char *)x.p; pl = (size_t)(x.end - x.p); }
            else if (num == 2 && wt == 5) { uint32_t u = (uint32_t)v; memcpy(&score, &u, 4); }
            else if (num == 3 && wt == 0) type = (int)v;
        }
        if (!ps) return qr_fail(e, "%s: pieces[%d]: no piece string", name, id);
        if (tok_spm_piece(t, id, ps, pl, score, type)) return qr_fail(e, "out of memory");
        id++;
    }
    tok_spm_setup(t, add_dummy);
    t->byte_fallback = byte_fallback;
    t->unk_id = unk >= 0 && unk < n ? (int32_t)unk : -1;
    t->bos_id = bos >= 0 && bos < n ? (int32_t)bos : -1;
    t->eos_id = eos >= 0 && eos < n ? (int32_t)eos : -1;
    // TOK_ADD_SPECIAL adds BOS, as Llama's tokenizers do by default.
    if (t->bos_id >= 0) {
        t->prefix_ids = malloc(sizeof(int32_t));
        if (!t->prefix_ids) return qr_fail(e, "out of memory");
        t->prefix_ids[t->n_prefix++] = t->bos_id;
    }
    snprintf(t->desc, sizeof t->desc, "SentencePiece model (BPE%s), %d pieces", byte_fallback ? ", byte fallback" : "", n);
    return 0;
}
