// Shared between the prompt-attack files (attacks/prompt.c, attacks/recode.c).
#pragma once
#include <stddef.h>
#include "attacks/prompt.h"
#include "attacks/rng.h"

// Replacement of prompt bytes [start, end) by rep.
typedef struct {
    size_t start, end;
    char *rep;
} QrEdit;
typedef struct {
    QrEdit *v;
    size_t n, cap;
} QrEdits;

int qr_edits_add(QrEdits *ed, size_t start, size_t end, const char *rep, size_t len);
// The text with the edits applied in position order (overlapping ones after the
// first are skipped); NULL when out of memory.
char *qr_edits_apply(const char *text, QrEdits *ed);
void qr_edits_free(QrEdits *ed);

// The task's random stream: Philox keyed by (seed, attack name, task_id).
void qr_attack_rng(QrRng *r, const QrAttackCfg *c, const char *task_id);
// syn written in the case pattern of the word w[0..n).
void qr_match_case(const char *w, size_t n, const char *syn, char *out, size_t cap);

int qr_attack_func(const QrAttackCfg *c, const QrAttackIn *in, QrAttackOut *o, QrErr *e);
int qr_attack_format(const QrAttackCfg *c, const QrAttackIn *in, QrAttackOut *o, QrErr *e);
