import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// glibc's per-thread allocation cache, sized for a server that holds many small objects across an upstream round trip.
///
/// glibc keeps at most 7 freed chunks of each size in a thread's cache (`tcache_count`). An event loop reads up to 32
/// datagrams at a time, and on the cache-miss path every query holds its objects until its upstream answers, so a
/// burst of replies frees far more than 7 chunks of a size. The rest go to the arena's fast bins and unsorted bins:
/// each later malloc of that size takes the arena's slower path, and a larger one first runs `malloc_consolidate` over
/// the fast bins (perf on the miss mix: `_int_malloc` 7.8 % and `malloc_consolidate` 2.4 % of the process's samples).
/// With `tcache_count=1000` the loop's frees and mallocs stay in the thread's cache.
///
/// Measured with `bench/cpu-split/run.sh` (alternating runs of one binary, only the variable changed; see BENCHMARKS.md,
/// "Session 9"): user CPU per miss 18.0–21.7 µs at the default, 13.7–14.3 µs at 1000; 256 and 128 gave 15.5–15.8 and
/// 16.4–17.2 µs, 4000 and 65535 no better than 1000. RSS when ready with the 1M-rule RPZ loaded did not change.
///
/// The count can only be set in the environment before the process starts (`mallopt` has no parameter for it), so
/// `palisade serve` re-executes itself once with it added to `GLIBC_TUNABLES`. An operator who sets
/// `glibc.malloc.tcache_count` there keeps their value (`…tcache_count=7` is glibc's default).
public enum MallocTuning {
    /// The tunable's name.
    static let tcacheName = "glibc.malloc.tcache_count"
    /// The tunable and its value.
    public static let tcacheCount = Self.tcacheName + "=1000"
    /// Set for the re-executed process only (and removed by it), so that it never re-executes in turn. Not `PALISADE_…`:
    /// those are configuration overrides.
    static let marker = "_PALISADE_MALLOC_REEXEC"

    /// The `GLIBC_TUNABLES` value to run with, given the current one; nil when it already sets `tcache_count`.
    public static func tunables(current: String?) -> String? {
        guard let current, !current.isEmpty else { return Self.tcacheCount }
        return Self.tcacheValue(in: current) == nil ? current + ":" + Self.tcacheCount : nil
    }

    /// The `tcache_count` in force for this process, from its `GLIBC_TUNABLES` (nil: glibc's default of 7, or not glibc).
    public static var inForce: String? {
        #if canImport(Glibc)
        ProcessInfo.processInfo.environment["GLIBC_TUNABLES"].flatMap(Self.tcacheValue(in:))
        #else
        nil
        #endif
    }

    /// The value `tunables` (`name=value` pairs separated by `:`) gives `tcache_count`, or nil when it sets none.
    private static func tcacheValue(in tunables: String) -> String? {
        for pair in tunables.split(separator: ":") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if parts.first == Substring(Self.tcacheName) { return parts.count > 1 ? String(parts[1]) : "" }
        }
        return nil
    }

    /// Re-executes this process (`/proc/self/exe`, the same arguments) with ``tcacheCount`` added to `GLIBC_TUNABLES`,
    /// unless the C library is not glibc or the variable already sets the count. Returns only when it did not
    /// re-execute; the result then says why the process runs without it when that is a failure (nil otherwise).
    public static func reexecIfNeeded() -> String? {
        #if canImport(Glibc)
        let environment = ProcessInfo.processInfo.environment
        let original = environment["GLIBC_TUNABLES"]
        let value = Self.tunables(current: original)
        if environment[Self.marker] != nil {
            // This is the re-executed process: never again, whatever the loader made of the variable (a binary with
            // file capabilities or setuid runs in secure mode, where glibc may drop tunables).
            unsetenv(Self.marker)
            return value == nil ? nil : "glibc did not keep glibc.malloc.tcache_count in GLIBC_TUNABLES (secure mode?)"
        }
        guard let value else { return nil }
        guard setenv("GLIBC_TUNABLES", value, 1) == 0, setenv(Self.marker, "1", 1) == 0 else {
            return "setenv failed: errno \(errno)"
        }
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        let reason = "re-executing /proc/self/exe failed: \(String(cString: strerror(errno)))"
        // Running on without it: the environment must say what is in force.
        if let original { setenv("GLIBC_TUNABLES", original, 1) } else { unsetenv("GLIBC_TUNABLES") }
        unsetenv(Self.marker)
        return reason
        #else
        return nil
        #endif
    }
}
