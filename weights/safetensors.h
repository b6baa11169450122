// Safetensors files (https://github.com/huggingface/safetensors, format facts
// from its README): 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]}, ...,
// "__metadata__": {..}}, then the data section; offsets are relative to it.
//
// Everything is validated before any tensor is handed out: header length
// within the file, JSON well-formed with no duplicate names, known dtype,
// shape entries non-negative, offsets inside the data section, byte length ==
// numel x dtype size, no two tensors overlapping.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "util/fileio.h"
#include "weights/tensor.h"

typedef struct {
    char *path;        // owned copy, used in every error message
    QrMap map;         // the mapped file (size 0 when parsed from a caller's buffer)
    QrTensor *tensors; // [n], in header order; names owned here
    int n;
} QrSafetensors;

// Parses a safetensors image held in memory (the caller keeps buf alive as
// long as st). `path` names it in messages. Used directly by the fuzz target.
int qr_st_parse(QrSafetensors *st, const uint8_t *buf, size_t len, const char *path, QrErr *e);
// Maps the file read-only and parses it.
int qr_st_open(QrSafetensors *st, const char *path, QrErr *e);
void qr_st_close(QrSafetensors *st);
