// runtime/generate + sampler: batched generation equals one-at-a-time, stop
// strings (also across token boundaries and in streamed output), EOS,
// seeded sampling, top-p.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/generate.h"

#define STORIES "tests/fixtures/stories260K/stories260K.gguf"

static QrModel *model;
static Tokenizer *tok;

static int setup(void **st) {
    (void)st;
    QrErr e;
    if (qr_model_load(&model, STORIES, NULL, &e) || tok_load(&tok, STORIES, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return -1;
    }
    return 0;
}
static int teardown(void **st) {
    (void)st;
    qr_model_free(model);
    tok_free(tok);
    return 0;
}

static int32_t *enc(const char *s, int *n) {
    int32_t *ids;
    size_t nn;
    QrErr e;
    if (tok_encode(tok, s, strlen(s), TOK_ADD_SPECIAL, &ids, &nn, &e)) fail_msg("%s", e.msg);
    *n = (int)nn;
    return ids;
}

static void test_batched_equals_single(void **st) {
    (void)st;
    const char *texts[3] = {"Once upon a time", "The cat", "Tom and his friend went to the big"};
    int32_t *p[3];
    int n[3];
    for (int i = 0; i < 3; i++) p[i] = enc(texts[i], &n[i]);
    for (int sampled = 0; sampled < 2; sampled++) {
        uint64_t seeds[3] = {11, 22, 33};
        QrGenParams gp = {.max_new_tokens = 56, .temperature = sampled ? 0.9f : 0, .top_p = 0.95f, .seeds = seeds};
        QrCompletion batch[3], one[1];
        QrErr e;
        assert_int_equal(qr_generate(model, tok, (const int32_t *const *)p, n, 3, &gp, batch, &e), 0);
        for (int i = 0; i < 3; i++) {
            QrGenParams g1 = gp;
            g1.seeds = &seeds[i];
            const int32_t *pi[1] = {p[i]};
            assert_int_equal(qr_generate(model, tok, pi, &n[i], 1, &g1, one, &e), 0);
            assert_int_equal(one[0].n_tokens, batch[i].n_tokens);
            assert_memory_equal(one[0].tokens, batch[i].tokens, (size_t)one[0].n_tokens * 4);
            assert_string_equal(one[0].text, batch[i].text);
            assert_int_equal(one[0].finish, batch[i].finish);
            qr_completion_free(&one[0]);
        }
        if (!sampled)
            assert_string_equal(batch[0].text, ", there was a little girl named Lily. She loved to play outside in "
                                               "the park. One day, she saw a big, red ball. She wanted to play with "
                                               "it, but it was too high");
        for (int i = 0; i < 3; i++) qr_completion_free(&batch[i]);
    }
    for (int i = 0; i < 3; i++) free(p[i]);
}

typedef struct {
    char buf[4096];
    size_t n;
    int calls;
} Sink;
static void on_text(void *ctx, int seq, const char *t, size_t len) {
    Sink *s = ctx;
    assert_int_equal(seq, 0);
    memcpy(s->buf + s->n, t, len);
    s->n += len;
    s->buf[s->n] = 0;
    s->calls++;
}

static void test_stop_strings_and_streaming(void **st) {
    (void)st;
    int n;
    int32_t *p = enc("Once upon a time", &n);
    const int32_t *pp[1] = {p};
    // "park. One" spans several tokens; the completion stops right before it,
    // and the streamed text never contains any of it.
    const char *stops[] = {"zzz", "park. One"};
    Sink sink = {.n = 0};
    QrGenParams gp = {.max_new_tokens = 100, .stop = stops, .n_stop = 2, .on_text = on_text, .ctx = &sink};
    QrCompletion c;
    QrErr e;
    assert_int_equal(qr_generate(model, tok, pp, &n, 1, &gp, &c, &e), 0);
    assert_int_equal(c.finish, QR_FINISH_STOP);
    assert_string_equal(c.text, ", there was a little girl named Lily. She loved to play outside in the ");
    assert_string_equal(sink.buf, c.text);
    assert_true(sink.calls > 3); // it did stream
    qr_completion_free(&c);
    // length limit
    gp = (QrGenParams){.max_new_tokens = 5};
    assert_int_equal(qr_generate(model, tok, pp, &n, 1, &gp, &c, &e), 0);
    assert_int_equal(c.finish, QR_FINISH_LENGTH);
    assert_int_equal(c.n_tokens, 5);
    qr_completion_free(&c);
    free(p);
}

// EOS ends a sequence (the EOS id is not part of the output); ignore_eos goes
// on. stories260K never emits its EOS (2): like every llama2.c model it ends a
// story with BOS (1), so the test makes 1 an end-of-sequence id of the config.
static void test_eos(void **st) {
    (void)st;
    int saved = model->cfg.eos_ids[0];
    model->cfg.eos_ids[0] = 1;
    int n;
    int32_t *p = enc("Once upon a time", &n);
    const int32_t *pp[1] = {p};
    QrGenParams gp = {.max_new_tokens = 400};
    QrCompletion c;
    QrErr e;
    assert_int_equal(qr_generate(model, tok, pp, &n, 1, &gp, &c, &e), 0);
    assert_int_equal(c.finish, QR_FINISH_EOS);
    assert_true(c.n_tokens > 60 && c.n_tokens < 400);
    for (int i = 0; i < c.n_tokens; i++) assert_int_not_equal(c.tokens[i], 1);
    int len = c.n_tokens;
    qr_completion_free(&c);
    gp.ignore_eos = 1;
    gp.max_new_tokens = len + 5;
    assert_int_equal(qr_generate(model, tok, pp, &n, 1, &gp, &c, &e), 0);
    assert_int_equal(c.finish, QR_FINISH_LENGTH);
    assert_int_equal(c.tokens[len], 1);
    qr_completion_free(&c);
    free(p);
    model->cfg.eos_ids[0] = saved;
}

static void test_find_stop(void **st) {
    (void)st;
    const char *s[] = {"\ndef", "\nclass", "\nif __name__", "\nprint", "\n#"};
    const char *t = "    return x\n\ndef f():";
    assert_int_equal(qr_find_stop(t, strlen(t), 0, s, 5), 13);
    assert_int_equal(qr_find_stop(t, strlen(t), 15, s, 5), 13); // straddles the previous check
    assert_int_equal(qr_find_stop(t, 14, 0, s, 5), -1);         // "\ndef" not complete yet
    const char *u = "a\n# c\nprint(1)";
    assert_int_equal(qr_find_stop(u, strlen(u), 0, s, 5), 1); // the earliest wins
    assert_int_equal(qr_find_stop(u, strlen(u), 0, NULL, 0), -1);
}

static void test_sampler(void **st) {
    (void)st;
    float lg[4] = {0.0f, logf(3.0f), -1e30f, -1e30f}, work[12];
    QrSampler s;
    qr_sampler_init(&s, 0, 1, 1);
    assert_int_equal(qr_sample(&s, lg, 4, work), 1);
    float tie[3] = {1, 5, 5};
    assert_int_equal(qr_sample(&s, tie, 3, work), 1); // ties: lowest id
    // T = 1: p = (1/4, 3/4)
    qr_sampler_init(&s, 1, 1, 123);
    int c1 = 0;
    for (int i = 0; i < 20000; i++) c1 += qr_sample(&s, lg, 4, work) == 1;
    assert_true(fabs(c1 / 20000.0 - 0.75) < 0.015);
    // top-p 0.5: only the 3/4 token is kept
    qr_sampler_init(&s, 1, 0.5f, 123);
    for (int i = 0; i < 1000; i++) assert_int_equal(qr_sample(&s, lg, 4, work), 1);
    // top-p 0.8: both kept (0.75 < 0.8), same proportions
    qr_sampler_init(&s, 1, 0.8f, 5);
    c1 = 0;
    for (int i = 0; i < 20000; i++) c1 += qr_sample(&s, lg, 4, work) == 1;
    assert_true(fabs(c1 / 20000.0 - 0.75) < 0.015);
    // high temperature flattens
    qr_sampler_init(&s, 100, 1, 9);
    c1 = 0;
    for (int i = 0; i < 20000; i++) c1 += qr_sample(&s, lg, 2, work) == 1;
    assert_true(fabs(c1 / 20000.0 - 0.5) < 0.02);
    // the same seed gives the same stream
    QrSampler a, b;
    qr_sampler_init(&a, 1, 1, 77);
    qr_sampler_init(&b, 1, 1, 77);
    for (int i = 0; i < 100; i++) assert_true(qr_sampler_uniform(&a) == qr_sampler_uniform(&b));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batched_equals_single), cmocka_unit_test(test_stop_strings_and_streaming),
        cmocka_unit_test(test_eos),                   cmocka_unit_test(test_find_stop),
        cmocka_unit_test(test_sampler),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
