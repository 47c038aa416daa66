// Counts calls to malloc, calloc and realloc, for checking that policy lookups allocate nothing, and for counting a
// server's allocations per query.
// Build: cc -O2 -shared -fPIC -o malloc-count.so malloc-count.c
// Use:   LD_PRELOAD=./malloc-count.so .build/release/policy-bench load rpz FILE   (reads palisade_malloc_count)
//        LD_PRELOAD=./malloc-count.so palisade serve ...; kill -USR2 PID   (prints "MALLOCS n" to stderr;
//        bench/alloc-count/run.sh)
#include <stddef.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

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

// SIGUSR2 writes the running total to stderr (snprintf and write only: nothing that allocates).
static void dump(int sig) {
    (void)sig;
    char b[64];
    int l = snprintf(b, sizeof b, "MALLOCS %lu\n", atomic_load(&palisade_malloc_count));
    if (l > 0) (void)write(2, b, (size_t)l);
}

__attribute__((constructor)) static void install_dump(void) { signal(SIGUSR2, dump); }
