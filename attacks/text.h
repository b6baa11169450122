// Array growth for the attack files (internal to attacks/; strings use util/sbuf.h).
#pragma once
#include <stddef.h>

// Ensures *p (an array of elements of size elt with capacity *cap) holds at
// least n elements, doubling the capacity. Returns -1 when out of memory.
int qr_grow(void **p, size_t *cap, size_t n, size_t elt);
