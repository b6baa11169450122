#include "eval/postprocess.h"
#include <stdlib.h>
#include <string.h>
#include "util/sbuf.h"

// evalplus/provider/utility.py: EOS + extra_eos_for_direct_completion(dataset)
static const char *const HUMANEVAL_STOPS[] = {"<|endoftext|>", "<|endofmask|>", "</s>",    "\nif __name__", "\ndef main(",
                                              "\nprint(",       "\ndef ",         "\nclass ", "\nimport ",     "\nfrom ",
                                              "\nassert "};
static const char *const MBPP_STOPS[] = {"<|endoftext|>", "<|endofmask|>", "</s>", "\nif __name__",
                                         "\ndef main(",    "\nprint(",       "\n\"\"\"", "\nassert"};

size_t qr_stop_strings(QrDatasetKind kind, const char *const **out) {
    if (qr_dataset_is_mbpp(kind)) {
        *out = MBPP_STOPS;
        return sizeof MBPP_STOPS / sizeof *MBPP_STOPS;
    }
    *out = HUMANEVAL_STOPS;
    return sizeof HUMANEVAL_STOPS / sizeof *HUMANEVAL_STOPS;
}

char *qr_cut_completion(const char *text, QrDatasetKind kind) {
    const char *const *stops;
    size_t ns = qr_stop_strings(kind, &stops);
    // EvalPlus starts from min_index = 10000 (characters), so that is also a cap.
    size_t end = 0, chars = 0, len = strlen(text);
    while (end < len && chars < 10000) {
        end++;
        while (end < len && ((unsigned char)text[end] & 0xc0) == 0x80) end++; // whole UTF-8 sequences
        chars++;
    }
    for (size_t i = 0; i < ns; i++) {
        const char *p = strstr(text, stops[i]);
        if (p && (size_t)(p - text) < end) end = (size_t)(p - text);
    }
    QrSbuf b;
    qr_sb_init(&b);
    qr_sb_putn(&b, "", 0);
    for (size_t i = 0; i < end; i++) {
        if (text[i] == '\t') qr_sb_puts(&b, "    ");
        else qr_sb_putc(&b, text[i]);
    }
    return qr_sb_take(&b);
}
