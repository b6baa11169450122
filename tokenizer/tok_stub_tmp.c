#include "tokenizer/tok_internal.h"
int tok_load_json(Tokenizer *t, const char *name, const char *buf, size_t len, const char *config_path, QrErr *e) { (void)t; (void)buf; (void)len; (void)config_path; return qr_fail(e, "%s: not yet", name); }
int tok_load_spm(Tokenizer *t, const char *name, const uint8_t *buf, size_t len, QrErr *e) { (void)t; (void)buf; (void)len; return qr_fail(e, "%s: not yet", name); }
