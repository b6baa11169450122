// The config.json of the study's checkpoints (and Qwen2.5-Coder-0.5B), as
// published on the Hugging Face hub, compiled in: `qrobust bench --arch NAME`
// builds a random-weight model of that exact shape without downloading
// anything, and the tests check each parameter count against the published
// size. Sources are cited next to each entry in runtime/presets.c.
#pragma once
#include <stdint.h>

typedef struct {
    const char *name;      // short name, e.g. "deepseek-coder-1.3b-base"
    const char *repo;      // Hugging Face repository, e.g. "deepseek-ai/deepseek-coder-1.3b-base"
    const char *published; // the size the publisher states, e.g. "1.3B" (model card / file size)
    int64_t n_params;      // exact count implied by the config (tests/test_families.c checks it)
    const char *config;    // config.json text
} QrPreset;

extern const QrPreset qr_presets[];
extern const int qr_n_presets;

// By short name or repository (case-insensitive); NULL if unknown.
const QrPreset *qr_preset_find(const char *name);
