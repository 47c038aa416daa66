// Batched UDP I/O for the direct listener (recvmmsg/sendmmsg and epoll), in C because Swift's Glibc module does
// not expose the GNU batch calls. No policy here: it moves datagrams and addresses, the Swift side decides.
#ifndef PALISADE_CDIRECTUDP_H
#define PALISADE_CDIRECTUDP_H

#include <stddef.h>
#include <stdint.h>

/// A peer address without the sockaddr types: family 4 or 6, port in host order, address bytes in network order
/// (the first 4 for IPv4).
typedef struct {
    int family;
    uint16_t port;
    uint8_t addr[16];
} pal_peer;

/// A receive batch: `slots` datagrams of at most `slot_size` bytes each, with their senders.
typedef struct pal_rx pal_rx;
/// Creates a batch; NULL when memory runs out.
pal_rx *pal_rx_create(unsigned slots, unsigned slot_size);
void pal_rx_destroy(pal_rx *rx);
/// Reads up to `slots` datagrams without blocking. Returns how many, 0 when none is waiting, or -errno.
int pal_rx_recv(int fd, pal_rx *rx);
/// Datagram `i` of the last read: its bytes and length; `truncated` is set when it did not fit its slot.
const uint8_t *pal_rx_data(const pal_rx *rx, unsigned i, unsigned *length, int *truncated);
/// The sender of datagram `i`; false (0) for a family other than IPv4/IPv6.
int pal_rx_peer(const pal_rx *rx, unsigned i, pal_peer *peer);

/// A send batch: up to `slots` datagrams of at most `slot_size` bytes, copied in, sent with sendmmsg.
typedef struct pal_tx pal_tx;
pal_tx *pal_tx_create(unsigned slots, unsigned slot_size);
void pal_tx_destroy(pal_tx *tx);
/// Copies a datagram for `peer` into the batch. Returns 0, or -1 when the batch is full or the datagram does not
/// fit a slot (send it with pal_send_one).
int pal_tx_add(pal_tx *tx, const uint8_t *data, unsigned length, const pal_peer *peer);
/// Datagrams in the batch.
unsigned pal_tx_count(const pal_tx *tx);
/// Sends the batch and empties it. Returns how many datagrams could not be sent (dropped: a full socket buffer, an
/// unreachable peer); `first_errno` gets the first error.
unsigned pal_tx_flush(int fd, pal_tx *tx, int *first_errno);
/// Sends one datagram. Returns 0 or -errno.
int pal_send_one(int fd, const uint8_t *data, size_t length, const pal_peer *peer);

/// Opens a non-blocking UDP socket bound to `peer`'s address and port with SO_REUSEADDR and SO_REUSEPORT.
/// Returns the descriptor or -errno.
int pal_udp_bind(const pal_peer *local);
/// The bound address of `fd`. Returns 0 or -errno.
int pal_udp_local(int fd, pal_peer *local);

/// An eventfd to wake a thread that waits in epoll (pal_epoll_wait), or -errno.
int pal_wake_create(void);
/// Signals a wake descriptor.
void pal_wake_signal(int wake);
/// Opens a non-blocking UDP socket connected to `server` (the kernel binds a random ephemeral port, drops datagrams
/// from other peers and reports ICMP port-unreachable as an error), asking for a receive buffer of `rcvbuf` bytes
/// (0: the default). Returns the descriptor or -errno.
int pal_udp_connect(const pal_peer *server, int rcvbuf);
/// Sends `count` datagrams on a connected socket with sendmmsg: datagram i is `lengths[i]` bytes, the datagrams
/// back to back in `data`. `errors[i]` gets 0 or the errno that kept datagram i from going. Returns how many failed.
unsigned pal_send_batch(int fd, const uint8_t *data, const unsigned *lengths, unsigned count, int *errors);

/// An epoll set, or -errno.
int pal_epoll_create(void);
/// Adds `fd` to the set for readability, reported with `tag`. Returns 0 or -errno.
int pal_epoll_add(int ep, int fd, uint64_t tag);
/// Removes `fd` from the set. Returns 0 or -errno.
int pal_epoll_del(int ep, int fd);
/// Waits up to `timeout_ms` (-1: without limit) for readiness; writes up to `max` tags. Returns how many (0 on
/// timeout), or -errno (never -EINTR: an interrupted wait returns 0).
int pal_epoll_wait(int ep, uint64_t *tags, int max, int timeout_ms);
/// Empties a wake descriptor after it was signalled.
void pal_wake_drain(int wake);
/// Names the calling thread (at most 15 characters show in top and /proc).
void pal_thread_name(const char *name);

#endif
