// libFuzzer target: the SentencePiece model reader, the Precompiled charsmap
// and the unigram tokenizer on arbitrary bytes. Input layout: 2 bytes
// little-endian text length L, L bytes of text, then a ModelProto (which, when
// it parses, becomes a unigram tokenizer with its pieces and charsmap; the text
// is encoded with it and decoded again). Must return or fail cleanly, never
// read out of bounds or leak.
// Seed corpus: tests/fixtures/mbart/tiny/sentencepiece.bpe.model behind a text.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer/unigram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    size_t tlen = (size_t)data[0] | (size_t)data[1] << 8;
    if (tlen > size - 2) tlen = size - 2;
    const char *text = (const char *)data + 2;
    QrSpmModel m;
    QrErr e;
    if (qr_spm_parse(&m, data + 2 + tlen, size - 2 - tlen, "fuzz.model", &e)) return 0;
    QrUnigram *u = qr_uni_new();
    int ok = u != NULL;
    for (int i = 0; ok && i < m.n; i++) {
        unsigned f = m.pieces[i].type == 3 ? QR_UNI_ADDED | QR_UNI_SPECIAL : 0;
        ok = !qr_uni_add(u, m.pieces[i].piece, strlen(m.pieces[i].piece), m.pieces[i].score, f, &e);
    }
    if (ok) {
        u->unk_id = m.unk_id >= 0 && m.unk_id < m.n ? m.unk_id : -1;
        u->has_collapse = 1;
        u->collapse[0] = ' ';
        if (m.charsmap) qr_uni_set_charsmap(u, m.charsmap, m.charsmap_len, "fuzz.model", &e);
        ok = !qr_uni_finish(u, &e);
    }
    if (ok) {
        int32_t *ids = NULL;
        size_t n = 0;
        if (!qr_uni_encode(u, text, tlen, &ids, &n, &e)) free(qr_uni_decode(u, ids, n, 1, &e));
        free(ids);
    }
    qr_uni_free(u);
    qr_spm_free(&m);
    return 0;
}
