#include "eval/postprocess.h"
#include <stdlib.h>
#include <string.h>
#include "tokenizer/unicode.h"
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

int qr_postprocess_valid(const char *name) { return !strcmp(name, "evalplus") || !strcmp(name, "raw"); }

// Python's str.isspace(): bidirectional class WS, B or S, or category Zs,
// which is the White_Space property plus the information separators.
static int py_isspace(uint32_t cp) { return (cp >= 0x1c && cp <= 0x1f) || unicode_is_whitespace(cp); }

char *qr_model_prompt(const char *mode, const char *prompt) {
    size_t len = strlen(prompt);
    if (strcmp(mode, "evalplus")) return strdup(prompt);
    // First and last non-space code point; bytes that are not UTF-8 count as
    // non-space (Python would not have decoded them at all).
    size_t start = len, end = 0;
    for (size_t i = 0; i < len;) {
        int maximal, n = utf8_valid_seq((const uint8_t *)prompt + i, len - i, &maximal), adv = 1;
        uint32_t cp = n ? utf8_decode((const uint8_t *)prompt + i, len - i, &adv) : 0xFFFD;
        if (!n) adv = maximal > 0 ? maximal : 1;
        if (!py_isspace(cp)) {
            if (start == len) start = i;
            end = i + (size_t)adv;
        }
        i += (size_t)adv;
    }
    QrSbuf b;
    qr_sb_init(&b);
    if (start < end) qr_sb_putn(&b, prompt + start, end - start);
    qr_sb_putc(&b, '\n'); // codegen.py:80: task["prompt"].strip() + "\n"
    return qr_sb_take(&b);
}

int qr_evalplus_solutions(QrEvaluator *ev, const QrDataset *ds, size_t n, const char *const *task_ids,
                          const char *const *prompts, const char *const *completions, char **out, QrErr *e) {
    char **progs = calloc(n ? n : 1, sizeof *progs);
    const char **entries = calloc(n ? n : 1, sizeof *entries);
    int rc = 0;
    if (!progs || !entries) rc = qr_fail(e, "out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        const QrProblem *t = qr_dataset_find(ds, task_ids[i]);
        if (!t) {
            rc = qr_fail(e, "%s: no task '%s'", ds->name, task_ids[i]);
            break;
        }
        entries[i] = t->entry_point;
        // codegen.py:88: solution = prompt + impl (the prompt as the model received it)
        QrSbuf b;
        qr_sb_init(&b);
        qr_sb_puts(&b, prompts[i]);
        qr_sb_puts(&b, completions[i]);
        progs[i] = qr_sb_take(&b);
    }
    // codegen.py:89-91: sanitize(solution, entrypoint=task["entry_point"])
    if (!rc) rc = qr_evaluator_sanitize(ev, (const char *const *)progs, entries, n, out, e);
    for (size_t i = 0; progs && i < n; i++) free(progs[i]);
    free(progs);
    free(entries);
    return rc;
}
