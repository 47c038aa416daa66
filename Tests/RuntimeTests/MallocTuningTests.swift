import Runtime
import Testing

/// `palisade serve` adds glibc's `tcache_count` to `GLIBC_TUNABLES` before it starts, keeping what the operator set.
@Suite struct MallocTuningTests {
    @Test("no variable, or an empty one: the count alone")
    func addsToNothing() {
        #expect(MallocTuning.tunables(current: nil) == "glibc.malloc.tcache_count=1000")
        #expect(MallocTuning.tunables(current: "") == "glibc.malloc.tcache_count=1000")
    }

    @Test("other tunables are kept, in their order, and the count is appended")
    func keepsOthers() {
        #expect(MallocTuning.tunables(current: "glibc.malloc.mxfast=0:glibc.malloc.arena_max=2")
            == "glibc.malloc.mxfast=0:glibc.malloc.arena_max=2:glibc.malloc.tcache_count=1000")
    }

    @Test("an operator's own count wins, wherever it stands; a longer name that only starts the same does not count")
    func operatorWins() {
        #expect(MallocTuning.tunables(current: "glibc.malloc.tcache_count=7") == nil)
        #expect(MallocTuning.tunables(current: "glibc.malloc.mxfast=0:glibc.malloc.tcache_count=64") == nil)
        #expect(MallocTuning.tunables(current: "glibc.malloc.tcache_count_max=3")
            == "glibc.malloc.tcache_count_max=3:glibc.malloc.tcache_count=1000")
    }
}
