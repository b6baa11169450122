#include "runtime/generate.h"
#include <stdlib.h>
#include <string.h>
#include "util/timer.h"

const char *qr_finish_name(QrFinish f) {
    static const char *N[] = {"length", "eos", "stop", "context"};
    return (unsigned)f < 4 ? N[f] : "?";
}

void qr_completion_free(QrCompletion *c) {
    free(c->tokens);
    free(c->text);
    memset(c, 0, sizeof *c);
}

long qr_find_stop(const char *text, size_t len, size_t from, const char *const *stop, int n_stop) {
    long best = -1;
    for (int s = 0; s < n_stop; s++) {
        size_t sl = strlen(stop[s]);
        if (!sl || sl > len) continue;
        size_t start = from >= sl - 1 ? from - (sl - 1) : 0;
        const char *hit = memmem(text + start, len - start, stop[s], sl);
        if (hit && (best < 0 || hit - text < best)) best = hit - text;
    }
    return best;
}

typedef struct {
    QrSampler smp;
    TokStream ts;
    char *text;
    size_t len, cap, emitted;
    int32_t *toks;
    int n, cap_t;
    int pos;    // next position
    int last;   // last token fed
    int done;
} SeqState;

static int append(SeqState *s, const char *t, size_t n) {
    if (s->len + n + 1 > s->cap) {
        size_t nc = (s->len + n + 1) * 2;
        char *nb = realloc(s->text, nc);
        if (!nb) return -1;
        s->text = nb;
        s->cap = nc;
    }
    memcpy(s->text + s->len, t, n);
    s->len += n;
    s->text[s->len] = 0;
    return 0;
}

// Emits text that can no longer be part of a stop string (all of it once done),
// never splitting a UTF-8 character.
static void stream(const QrGenParams *p, SeqState *s, int seq, size_t hold) {
    if (!p->on_text) return;
    size_t upto = s->done ? s->len : (s->len > hold ? s->len - hold : 0);
    while (upto > s->emitted && upto < s->len && ((uint8_t)s->text[upto] & 0xC0) == 0x80) upto--;
    if (upto > s->emitted) {
        p->on_text(p->ctx, seq, s->text + s->emitted, upto - s->emitted);
        s->emitted = upto;
    }
}

int qr_generate(QrModel *m, const Tokenizer *tok, const int32_t *const *prompts, const int *n_prompt, int n_seq,
                const QrGenParams *p, QrCompletion *out, QrErr *e) {
    memset(out, 0, (size_t)n_seq * sizeof *out);
    if (n_seq < 1) return qr_fail(e, "generate: no prompts");
    if (p->max_new_tokens < 1) return qr_fail(e, "generate: max_new_tokens must be positive");
    if (p->n_stop && !tok) return qr_fail(e, "generate: stop strings need a tokenizer to decode the text");
    int max_prompt = 0;
    long total = 0;
    for (int i = 0; i < n_seq; i++) {
        if (n_prompt[i] < 1) return qr_fail(e, "generate: prompt %d is empty (no tokens)", i);
        max_prompt = n_prompt[i] > max_prompt ? n_prompt[i] : max_prompt;
        total += n_prompt[i];
    }
    if (max_prompt >= m->cfg.max_pos)
        return qr_fail(e, "generate: a prompt of %d tokens leaves no room in the context of %d", max_prompt,
                       m->cfg.max_pos);
    int need_seq = max_prompt + p->max_new_tokens;
    if (need_seq > m->cfg.max_pos) need_seq = m->cfg.max_pos;
    if (m->kv.n_slots < n_seq || m->kv.max_seq < need_seq || m->max_batch < 1) {
        int batch = m->max_batch > 0 ? m->max_batch : 512;
        if (qr_model_reserve(m, n_seq, need_seq, batch, e)) return -1;
    }
    size_t hold = 0;
    for (int s = 0; s < p->n_stop; s++)
        if (strlen(p->stop[s]) > hold) hold = strlen(p->stop[s]);
    hold = hold ? hold - 1 : 0;

    int V = m->cfg.vocab_size, rc = 0;
    SeqState *S = calloc((size_t)n_seq, sizeof *S);
    float *logits = malloc((size_t)n_seq * V * sizeof(float));
    float *work = malloc((size_t)3 * V * sizeof(float));
    int *bt = malloc((size_t)(total > n_seq ? total : n_seq) * 3 * sizeof(int));
    uint8_t *want = calloc((size_t)(total > n_seq ? total : n_seq), 1);
    int *active = malloc((size_t)n_seq * sizeof(int));
    // Greedy on the GPU: the argmax runs on the device (no logits copied back).
    const int dev_greedy = m->device == QR_DEVICE_CUDA && p->temperature <= 0;
    int *ids = malloc((size_t)n_seq * sizeof(int));
    if (!S || !logits || !work || !bt || !want || !active || !ids) {
        rc = qr_fail(e, "generate: out of memory");
        goto out;
    }
    for (int i = 0; i < n_seq; i++) {
        uint64_t seed = p->seeds ? p->seeds[i] : p->seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(i + 1));
        qr_sampler_init(&S[i].smp, p->temperature, p->top_p, seed);
        if (tok) tok_stream_init(&S[i].ts, tok, prompts[i][n_prompt[i] - 1], 0);
        S[i].cap_t = p->max_new_tokens;
        S[i].toks = malloc((size_t)S[i].cap_t * sizeof(int32_t));
        S[i].text = calloc(1, 1);
        S[i].cap = 1;
        if (!S[i].toks || !S[i].text) {
            rc = qr_fail(e, "generate: out of memory");
            goto out;
        }
        qr_model_clear_seq(m, i);
    }
    // Prefill: every prompt in one batch (chunked by the model), logits at
    // each prompt's last token.
    double t0 = qr_now();
    int *bp = bt + (total > n_seq ? total : n_seq), *bs = bp + (total > n_seq ? total : n_seq);
    int k = 0;
    for (int i = 0; i < n_seq; i++)
        for (int j = 0; j < n_prompt[i]; j++) {
            bt[k] = prompts[i][j];
            bp[k] = j;
            bs[k] = i;
            want[k] = j == n_prompt[i] - 1;
            k++;
        }
    QrBatch pre = {k, bt, bp, bs, want};
    if ((rc = dev_greedy ? qr_model_forward_ids(m, &pre, ids, e) : qr_model_forward(m, &pre, logits, e))) goto out;
    for (int i = 0; i < n_seq; i++) S[i].pos = n_prompt[i];
    double t1 = qr_now();

    for (int step = 0;; step++) {
        // Sample the next token of each live sequence from its logits row.
        int n_act = 0, row = 0;
        for (int i = 0; i < n_seq; i++) {
            SeqState *s = &S[i];
            if (s->done) continue;
            const float *lg = logits + (size_t)row * V;
            int t = dev_greedy ? ids[row] : qr_sample(&s->smp, lg, V, work);
            row++;
            int eos = 0;
            if (!p->ignore_eos) {
                for (int q = 0; q < m->cfg.n_eos; q++) eos |= t == m->cfg.eos_ids[q];
                if (tok) eos |= tok_is_eog(tok, t);
            }
            if (eos) {
                s->done = 1;
                out[i].finish = QR_FINISH_EOS;
            } else {
                s->toks[s->n++] = t;
                s->last = t;
                if (tok) {
                    size_t pl;
                    const char *piece = tok_stream_push(&s->ts, t, &pl);
                    size_t before = s->len;
                    if (append(s, piece, pl)) {
                        rc = qr_fail(e, "generate: out of memory");
                        goto out;
                    }
                    long at = qr_find_stop(s->text, s->len, before, p->stop, p->n_stop);
                    if (at >= 0) {
                        s->len = (size_t)at;
                        s->text[at] = 0;
                        s->done = 1;
                        out[i].finish = QR_FINISH_STOP;
                    }
                }
                if (!s->done && s->n >= p->max_new_tokens) s->done = 1, out[i].finish = QR_FINISH_LENGTH;
                if (!s->done && s->pos >= m->kv.max_seq) s->done = 1, out[i].finish = QR_FINISH_CONTEXT;
            }
            if (s->done && tok && out[i].finish != QR_FINISH_STOP) {
                size_t fl;
                const char *tail = tok_stream_flush(&s->ts, &fl);
                if (append(s, tail, fl)) {
                    rc = qr_fail(e, "generate: out of memory");
                    goto out;
                }
                long at = qr_find_stop(s->text, s->len, 0, p->stop, p->n_stop);
                if (at >= 0) s->len = (size_t)at, s->text[at] = 0, out[i].finish = QR_FINISH_STOP;
            }
            stream(p, s, i, hold);
            if (!s->done) active[n_act++] = i;
        }
        if (!n_act) break;
        // Decode one token of every live sequence in one batch.
        for (int a = 0; a < n_act; a++) {
            SeqState *s = &S[active[a]];
            bt[a] = s->last;
            bp[a] = s->pos++;
            bs[a] = active[a];
            want[a] = 1;
        }
        QrBatch dec = {n_act, bt, bp, bs, want};
        if ((rc = dev_greedy ? qr_model_forward_ids(m, &dec, ids, e) : qr_model_forward(m, &dec, logits, e))) goto out;
    }
    double t2 = qr_now();
    for (int i = 0; i < n_seq; i++) {
        out[i].tokens = S[i].toks;
        out[i].n_tokens = S[i].n;
        out[i].text = S[i].text;
        out[i].len = S[i].len;
        out[i].t_prefill = t1 - t0;
        out[i].t_decode = t2 - t1;
        S[i].toks = NULL;
        S[i].text = NULL;
    }
out:
    if (S)
        for (int i = 0; i < n_seq; i++) {
            free(S[i].toks);
            free(S[i].text);
            if (tok) tok_stream_free(&S[i].ts);
        }
    if (rc)
        for (int i = 0; i < n_seq; i++) memset(&out[i], 0, sizeof out[i]);
    free(S);
    free(logits);
    free(work);
    free(bt);
    free(want);
    free(active);
    free(ids);
    return rc;
}
