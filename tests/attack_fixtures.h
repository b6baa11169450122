// Test helpers for the attack tests: the prompt fixtures (HumanEval, MBPP+).
#pragma once
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "util/fileio.h"

typedef struct {
    char *task_id, *prompt, *entry_point;
} FxTask;

// Loads tests/fixtures/attack/prompts_<name>.jsonl.gz; returns the count (0 on error).
static inline size_t fx_load(const char *name, FxTask **out) {
    char path[256], *buf;
    size_t len, n = 0, cap = 0;
    snprintf(path, sizeof path, "tests/fixtures/attack/prompts_%s.jsonl.gz", name);
    QrErr e;
    *out = NULL;
    if (qr_read_file(path, &buf, &len, &e)) return 0;
    FxTask *v = NULL;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *j = json_loads(line, 0, NULL);
        if (!j) continue;
        if (n == cap) v = realloc(v, (cap = cap ? 2 * cap : 256) * sizeof *v);
        v[n].task_id = strdup(json_string_value(json_object_get(j, "task_id")));
        v[n].prompt = strdup(json_string_value(json_object_get(j, "prompt")));
        v[n].entry_point = strdup(json_string_value(json_object_get(j, "entry_point")));
        n++;
        json_decref(j);
    }
    free(buf);
    *out = v;
    return n;
}

static inline void fx_free(FxTask *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(v[i].task_id);
        free(v[i].prompt);
        free(v[i].entry_point);
    }
    free(v);
}

static inline const FxTask *fx_find(const FxTask *v, size_t n, const char *id) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].task_id, id)) return &v[i];
    return NULL;
}
