#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Random numbers from the kernel CSPRNG, read 512 bytes at a time.
///
/// `SystemRandomNumberGenerator` makes one `getrandom(2)` system call per `next()`: on the cache-miss path that
/// was a system call per upstream query, only to pick its 16-bit ID (about 1 % of the event loop's time on the miss
/// mix). The numbers here are the same kernel output, fetched in bulk. The generator is a value owned by one event
/// loop's socket set, so the buffered bytes are never shared between threads.
struct KernelRandomBuffer: RandomNumberGenerator {
    private var words = [UInt64](repeating: 0, count: 64)
    private var next_ = 64

    mutating func next() -> UInt64 {
        if self.next_ == self.words.count { self.refill() }
        defer { self.next_ += 1 }
        return self.words[self.next_]
    }

    private mutating func refill() {
        self.words.withUnsafeMutableBytes { raw in
            var filled = 0
            #if os(Linux)
            // /dev/urandom is the same CSPRNG as getrandom(2) (which Glibc's Swift module does not export); one read
            // fills the whole buffer.
            let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
            if fd >= 0 {
                while filled < raw.count {
                    let n = read(fd, raw.baseAddress! + filled, raw.count - filled)
                    if n > 0 {
                        filled += n
                    } else if n < 0 && errno == EINTR {
                        continue
                    } else {
                        break
                    }
                }
                close(fd)
            }
            #endif
            // Whatever the read could not give (/dev/urandom missing, say, in a bare chroot) comes from
            // the standard generator, which reads the same source or traps: never a predictable ID.
            var system = SystemRandomNumberGenerator()
            while filled < raw.count {
                let word = system.next()
                let n = min(8, raw.count - filled)
                withUnsafeBytes(of: word) { raw.baseAddress!.advanced(by: filled).copyMemory(from: $0.baseAddress!, byteCount: n) }
                filled += n
            }
        }
        self.next_ = 0
    }
}
