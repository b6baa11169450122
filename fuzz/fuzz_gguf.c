// libFuzzer target: gguf_parse on arbitrary bytes must return 0 or an error,
// never read out of bounds or leak. A file that parses also goes through the
// model's config reader (GGUF metadata -> QrConfig) and the tensor views the
// checkpoint layer builds. Seed corpus: tests/fixtures/stories260K.
#include <stddef.h>
#include <stdint.h>
#include "runtime/model.h"
#include "weights/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    GgufFile g;
    QrErr e;
    if (gguf_parse(&g, data, size, "fuzz.gguf", &e) == 0) {
        const GgufKV *kv = gguf_find(&g, "tokenizer.ggml.scores");
        if (kv && kv->type == GGUF_ARRAY && kv->arr_type != GGUF_STRING)
            for (uint64_t i = 0; i < kv->arr_n; i++) (void)gguf_arr_f(kv, i);
        QrCheckpoint ck = {.kind = QR_CKPT_GGUF, .path = "fuzz.gguf", .gguf = &g};
        const QrArch *arch;
        QrConfig c;
        (void)qr_config_read(&ck, &arch, &c, &e);
    }
    gguf_close(&g);
    return 0;
}
