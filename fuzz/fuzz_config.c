// libFuzzer target: config.json text through the architecture's config reader
// (qr_config_read on a memory checkpoint), the consistency checks and the
// tensor list the config implies: an error or a valid config, never a crash.
// Seed corpus: tests/fixtures/llama-tiny/*/config.json.
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "runtime/model.h"

static void count(void *ctx, const char *name, int ndim, const int64_t *shape) {
    (void)name;
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0) *(int *)ctx = -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!j) return 0;
    if (json_is_object(j)) {
        QrCheckpoint ck;
        qr_ckpt_init_memory(&ck, j, "fuzz/config.json");
        const QrArch *arch;
        QrConfig c;
        QrErr e;
        if (qr_config_read(&ck, &arch, &c, &e) == 0) {
            int bad = 0;
            arch->each_tensor(&c, QR_CKPT_HF, &bad, count);
            arch->each_tensor(&c, QR_CKPT_GGUF, &bad, count);
            if (bad) __builtin_trap();
        }
        qr_ckpt_close(&ck);
    }
    json_decref(j);
    return 0;
}
