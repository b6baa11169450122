// GGUF v3 reader (llama.cpp's single-file checkpoint format).
//
// Layout (little-endian), from ggml's docs/gguf.md:
//   u32 magic "GGUF" | u32 version (3; 2 is read too) | u64 n_tensors | u64 n_kv
//   n_kv x { string key | u32 value_type | value }
//   n_tensors x { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset }
//   padding to `general.alignment` (default 32) | tensor data
// string = u64 length + bytes (not NUL-terminated). ne[0] is the fastest-varying
// dimension, so a PyTorch weight [out, in] is stored with ne = {in, out}.
//
// The whole file is mmapped; every count, length and offset is checked against
// the file size before use, so a hostile file yields an error, never a read
// out of bounds. Tensor data pointers point into the mapping (no copy).
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "util/err.h"
#include "util/fileio.h"

typedef enum {
    GGUF_UINT8 = 0, GGUF_INT8 = 1, GGUF_UINT16 = 2, GGUF_INT16 = 3, GGUF_UINT32 = 4, GGUF_INT32 = 5,
    GGUF_FLOAT32 = 6, GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9, GGUF_UINT64 = 10, GGUF_INT64 = 11,
    GGUF_FLOAT64 = 12,
} GgufValueType;

// ggml tensor types (ggml.h enum ggml_type); only the ones whose byte size we know.
typedef enum {
    GGML_F32 = 0, GGML_F16 = 1, GGML_Q4_0 = 2, GGML_Q4_1 = 3, GGML_Q5_0 = 6, GGML_Q5_1 = 7, GGML_Q8_0 = 8,
    GGML_I8 = 24, GGML_I16 = 25, GGML_I32 = 26, GGML_I64 = 27, GGML_F64 = 28, GGML_BF16 = 30,
} GgmlType;

typedef struct {
    const char *ptr; // into the mapping, NOT NUL-terminated
    uint64_t len;
} GgufStr;

typedef struct {
    char *key;     // NUL-terminated copy
    uint32_t type; // GgufValueType
    union {
        uint64_t u;  // unsigned integer types
        int64_t i;   // signed integer types
        double f;    // FLOAT32 / FLOAT64
        int b;       // BOOL
        GgufStr s;   // STRING
    } v;
    // ARRAY: element type and count; arr_data points at the first element in the
    // mapping (for scalar element types), arr_strs is a parsed index (STRING).
    uint32_t arr_type;
    uint64_t arr_n;
    const uint8_t *arr_data;
    GgufStr *arr_strs;
} GgufKV;

typedef struct {
    char *name;         // NUL-terminated copy
    uint32_t n_dims;    // 1..4
    uint64_t ne[4];     // ne[0] fastest-varying; unused dims are 1
    uint32_t ggml_type; // GgmlType
    uint64_t offset;    // relative to the data section
    uint64_t nbytes;
    const void *data;   // into the mapping
} GgufTensor;

typedef struct {
    const char *path;
    QrMap map;          // owned when opened with gguf_open
    const uint8_t *base;
    size_t size;
    uint32_t version;
    uint32_t alignment;
    uint64_t data_offset;
    uint64_t n_kv;
    GgufKV *kv;
    uint64_t n_tensors;
    GgufTensor *tensors;
} GgufFile;

int gguf_open(GgufFile *g, const char *path, QrErr *e);
// Parses a buffer the caller keeps alive (used by the fuzzer and tests);
// `name` is used in error messages.
int gguf_parse(GgufFile *g, const uint8_t *data, size_t size, const char *name, QrErr *e);
void gguf_close(GgufFile *g);

const GgufKV *gguf_find(const GgufFile *g, const char *key);
const GgufTensor *gguf_tensor(const GgufFile *g, const char *name);
// Typed getters: return 0 on success, -1 with a message naming file and key if
// the key is missing or has a type that cannot be converted losslessly.
int gguf_get_int(const GgufFile *g, const char *key, int64_t *out, QrErr *e);
int gguf_get_float(const GgufFile *g, const char *key, double *out, QrErr *e);
int gguf_get_str(const GgufFile *g, const char *key, GgufStr *out, QrErr *e);
// Array getter: checks the element type (for GGUF_STRING arrays use kv->arr_strs).
int gguf_get_arr(const GgufFile *g, const char *key, uint32_t elem_type, const GgufKV **out, QrErr *e);
// Element i of a numeric array as double / int64 (any numeric element type).
double gguf_arr_f(const GgufKV *kv, uint64_t i);
int64_t gguf_arr_i(const GgufKV *kv, uint64_t i);
int gguf_str_eq(GgufStr s, const char *lit);
const char *gguf_type_name(uint32_t ggml_type);
