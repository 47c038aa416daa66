// Counts malloc, calloc and realloc calls in a whole process; SIGUSR2 prints the running total to stderr.
// Build: cc -O2 -shared -fPIC -o alloc-count.so alloc-count.c
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <signal.h>
#include <unistd.h>
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static _Atomic unsigned long n = 0;
void *malloc(size_t s) { atomic_fetch_add_explicit(&n, 1, memory_order_relaxed); return __libc_malloc(s); }
void *calloc(size_t a, size_t b) { atomic_fetch_add_explicit(&n, 1, memory_order_relaxed); return __libc_calloc(a, b); }
void *realloc(void *p, size_t s) { atomic_fetch_add_explicit(&n, 1, memory_order_relaxed); return __libc_realloc(p, s); }
static void dump(int sig) { char b[64]; int l = snprintf(b, sizeof b, "MALLOCS %lu\n", atomic_load(&n)); write(2, b, l); }
__attribute__((constructor)) static void init(void) { signal(SIGUSR2, dump); }
