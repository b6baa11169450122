// libFuzzer target: the tokenizer.json loader on arbitrary bytes must load or
// return an error naming the field, never crash, read out of bounds or leak;
// whatever loads must then encode and decode a fixed text without error.
// Seeds: tests/fixtures/tok/features/*.json.gz (decompressed) and fuzz/seeds/tok_json/.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer/tok_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Tokenizer *t = tok_new();
    QrErr e;
    if (!t) return 0;
    if (tok_load_json(t, "fuzz.json", (const char *)data, size, NULL, &e) == 0 && tok_finish(t, &e) == 0) {
        static const char text[] = "def f(x):\n    return x + 1  # caf\xC3\xA9 <s> \xF0\x9F\xA6\x99 12345\r\n";
        int32_t *ids;
        size_t n;
        for (unsigned fl = 0; fl < 4; fl++) {
            if (tok_encode(t, text, sizeof text - 1, fl, &ids, &n, &e) == 0) {
                size_t dl;
                for (size_t i = 0; i < n; i++)
                    if (ids[i] < 0 || ids[i] >= tok_n_vocab(t)) abort(); // ids always in range
                char *d = tok_decode(t, ids, n, 0, &dl, &e);
                free(d);
                free(ids);
            }
        }
    }
    tok_free(t);
    return 0;
}
