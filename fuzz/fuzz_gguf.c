// libFuzzer target: gguf_parse on arbitrary bytes must return 0 or an error,
// never read out of bounds or leak. Seed corpus: tests/fixtures/stories260K.
#include <stddef.h>
#include <stdint.h>
#include "weights/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    GgufFile g;
    QrErr e;
    if (gguf_parse(&g, data, size, "fuzz.gguf", &e) == 0) {
        const GgufKV *kv = gguf_find(&g, "tokenizer.ggml.scores");
        if (kv && kv->type == GGUF_ARRAY && kv->arr_type != GGUF_STRING)
            for (uint64_t i = 0; i < kv->arr_n; i++) (void)gguf_arr_f(kv, i);
    }
    gguf_close(&g);
    return 0;
}
