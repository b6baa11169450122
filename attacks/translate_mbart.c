// The mBART-50 engine's slot (facebook/mbart-large-50-many-to-many-mmt, the
// study's back-translation model: SentencePiece unigram tokenizer with language
// codes en_XX / de_DE, encoder, decoder with cross-attention, beam search with
// the checkpoint's generation defaults). Not built yet: it needs the inference
// engine's building blocks (runtime/, kernels/). Until then opening it fails
// with a message saying so; this file is the one to replace.
#include "attacks/translate.h"

int qr_mbart_open(const char *dir, QrTranslator **out, QrErr *e) {
    *out = NULL;
    return qr_fail(e,
                   "translator mbart:%s: the mBART-50 engine is not built yet in this version of qrobust; "
                   "use --translator apertium (Debian packages apertium, apertium-eng-spa)",
                   dir);
}
