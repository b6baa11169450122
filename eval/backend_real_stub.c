// Placeholder for the real stages' backend until they land (see eval/backend.h).
#include "eval/backend.h"

__attribute__((weak)) int qr_backend_real(QrBackend *b, QrErr *e) {
    (void)b;
    return qr_fail(e, "this build cannot run real models yet: the engine, quantization, attack and evaluation "
                      "stages have not all landed (use --backend fake to exercise the pipeline)");
}
