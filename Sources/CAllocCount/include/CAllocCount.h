// An LD_PRELOAD library for tests and scripts (never linked into sluice):
// counts heap allocations (malloc, calloc, realloc, posix_memalign,
// aligned_alloc, memalign) in the process it is loaded into. With
// SLUICE_ALLOC_COUNT_FILE set, SIGUSR2 writes the count so far to that file.
#pragma once
#include <stdint.h>
uint64_t sl_alloc_count(void);
