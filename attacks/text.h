// Small text helpers shared by the attack files: a growable byte buffer and
// array growth. (Internal to attacks/.)
#pragma once
#include <stddef.h>

// Ensures *p (an array of elements of size elt with capacity *cap) holds at
// least n elements; doubles the capacity. Returns -1 when out of memory.
int qr_grow(void **p, size_t *cap, size_t n, size_t elt);

typedef struct {
    char *s; // NUL-terminated
    size_t len, cap;
    int oom; // set when an append failed; the buffer keeps what fit
} QrText;

void qr_text_add(QrText *b, const char *s, size_t n);
void qr_text_adds(QrText *b, const char *s);
void qr_text_addc(QrText *b, char c);
// Takes the string (malloc'd; "" when empty) and resets the buffer.
char *qr_text_take(QrText *b);
void qr_text_free(QrText *b);
