// Growth of a malloc'd array by doubling (for the many "append one more"
// loops that need no other container).
#pragma once
#include <stddef.h>

// Ensures *p (an array of elements of size elt, capacity *cap elements) holds
// at least n elements, doubling the capacity (at least 8). Returns -1 when out
// of memory, leaving *p and *cap as they were.
int qr_grow(void **p, size_t *cap, size_t n, size_t elt);
