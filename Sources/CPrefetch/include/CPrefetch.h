// A cache-line prefetch hint for Swift, which has no intrinsic for it. Used to overlap the memory stalls of
// many hash-table probes (one read burst of queries against a million-rule index) instead of paying them in turn.
#ifndef PALISADE_CPREFETCH_H
#define PALISADE_CPREFETCH_H

/// Asks the CPU to bring the cache line holding `p` into all cache levels, for reading. A hint only: it never
/// faults, even on a bad address, and does nothing where the target has no prefetch instruction.
static inline void palisade_prefetch(const void *p) {
    __builtin_prefetch(p, 0, 3);
}

#endif
