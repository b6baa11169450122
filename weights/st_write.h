// Writes a safetensors file (format: see weights/safetensors.h) from tensor
// views, streamed and atomically (path.tmp + fsync + rename). Layout as the
// Python safetensors library writes it: tensors ordered by dtype (the
// library's enum order, wider types first) then name, stored back to back so
// every tensor is aligned to its element size; the JSON header lists
// "__metadata__" first and is padded with spaces to a multiple of 8 bytes.
// (The same tensors as transformers' save_pretrained thus give the same bytes.)
#pragma once
#include <jansson.h>
#include "util/err.h"
#include "weights/tensor.h"

// t[n]: name, dtype, ndim/shape and data (nbytes must equal numel x dtype
// size) of each tensor; names must be unique. metadata: NULL or an object of
// string values.
int qr_st_write(const char *path, const QrTensor *t, int n, const json_t *metadata, QrErr *e);
