// Counts calls to malloc, calloc and realloc, for checking that policy lookups allocate nothing.
// Build: cc -O2 -shared -fPIC -o malloc-count.so malloc-count.c
// Use:   LD_PRELOAD=./malloc-count.so .build/release/policy-bench load rpz FILE
#include <stddef.h>
#include <stdatomic.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

_Atomic unsigned long palisade_malloc_count = 0;

void *malloc(size_t n) {
    atomic_fetch_add_explicit(&palisade_malloc_count, 1, memory_order_relaxed);
    return __libc_malloc(n);
}

void *calloc(size_t a, size_t b) {
    atomic_fetch_add_explicit(&palisade_malloc_count, 1, memory_order_relaxed);
    return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n) {
    atomic_fetch_add_explicit(&palisade_malloc_count, 1, memory_order_relaxed);
    return __libc_realloc(p, n);
}
