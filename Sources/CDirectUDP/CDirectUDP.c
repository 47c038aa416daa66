#define _GNU_SOURCE
#include "CDirectUDP.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

/// The arrays a batch of datagrams needs: headers, one buffer slot each, and their addresses.
struct batch {
    unsigned slots, slot_size;
    struct mmsghdr *msgs;
    struct iovec *iovs;
    struct sockaddr_storage *addrs;
    uint8_t *buf;
};

static void batch_free(struct batch *b) {
    free(b->msgs);
    free(b->iovs);
    free(b->addrs);
    free(b->buf);
}

/// Allocates every array; 0 on success, -1 (with nothing left allocated) when memory runs out.
static int batch_init(struct batch *b, unsigned slots, unsigned slot_size) {
    b->slots = slots;
    b->slot_size = slot_size;
    b->msgs = calloc(slots, sizeof *b->msgs);
    b->iovs = calloc(slots, sizeof *b->iovs);
    b->addrs = calloc(slots, sizeof *b->addrs);
    b->buf = malloc((size_t)slots * slot_size);
    if (!b->msgs || !b->iovs || !b->addrs || !b->buf) {
        batch_free(b);
        return -1;
    }
    return 0;
}

/// Allocates an object of `size` bytes whose first member is a batch, and the batch's arrays; NULL when memory runs out.
static void *batch_owner_create(size_t size, unsigned slots, unsigned slot_size) {
    void *owner = calloc(1, size);
    if (!owner) return NULL;
    if (batch_init((struct batch *)owner, slots, slot_size) < 0) {
        free(owner);
        return NULL;
    }
    return owner;
}

static void batch_owner_destroy(void *owner) {
    if (!owner) return;
    batch_free((struct batch *)owner);
    free(owner);
}

struct pal_rx {
    struct batch b;  // first: see batch_owner_create
};

pal_rx *pal_rx_create(unsigned slots, unsigned slot_size) {
    pal_rx *rx = batch_owner_create(sizeof *rx, slots, slot_size);
    if (!rx) return NULL;
    for (unsigned i = 0; i < slots; i++) {
        rx->b.iovs[i].iov_base = rx->b.buf + (size_t)i * slot_size;
        rx->b.iovs[i].iov_len = slot_size;
    }
    return rx;
}

void pal_rx_destroy(pal_rx *rx) { batch_owner_destroy(rx); }

int pal_rx_recv(int fd, pal_rx *rx) {
    for (unsigned i = 0; i < rx->b.slots; i++) {
        struct msghdr *h = &rx->b.msgs[i].msg_hdr;
        h->msg_name = &rx->b.addrs[i];
        h->msg_namelen = sizeof rx->b.addrs[i];
        h->msg_iov = &rx->b.iovs[i];
        h->msg_iovlen = 1;
        h->msg_control = NULL;
        h->msg_controllen = 0;
        h->msg_flags = 0;
        rx->b.msgs[i].msg_len = 0;
    }
    for (;;) {
        int n = recvmmsg(fd, rx->b.msgs, rx->b.slots, MSG_DONTWAIT, NULL);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        return -errno;
    }
}

const uint8_t *pal_rx_data(const pal_rx *rx, unsigned i, unsigned *length, int *truncated) {
    *length = rx->b.msgs[i].msg_len;
    *truncated = (rx->b.msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
    return rx->b.buf + (size_t)i * rx->b.slot_size;
}

static int peer_from(const struct sockaddr_storage *ss, socklen_t len, pal_peer *peer) {
    memset(peer, 0, sizeof *peer);
    if (ss->ss_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        peer->family = 4;
        peer->port = ntohs(a->sin_port);
        memcpy(peer->addr, &a->sin_addr, 4);
        return 1;
    }
    if (ss->ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        peer->family = 6;
        peer->port = ntohs(a->sin6_port);
        memcpy(peer->addr, &a->sin6_addr, 16);
        return 1;
    }
    return 0;
}

static socklen_t sockaddr_from(const pal_peer *peer, struct sockaddr_storage *ss) {
    memset(ss, 0, sizeof *ss);
    if (peer->family == 4) {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(peer->port);
        memcpy(&a->sin_addr, peer->addr, 4);
        return sizeof *a;
    }
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(peer->port);
    memcpy(&a->sin6_addr, peer->addr, 16);
    return sizeof *a;
}

int pal_rx_peer(const pal_rx *rx, unsigned i, pal_peer *peer) {
    return peer_from(&rx->b.addrs[i], rx->b.msgs[i].msg_hdr.msg_namelen, peer);
}

struct pal_tx {
    struct batch b;  // first: see batch_owner_create
    unsigned count;
};

pal_tx *pal_tx_create(unsigned slots, unsigned slot_size) { return batch_owner_create(sizeof(pal_tx), slots, slot_size); }

void pal_tx_destroy(pal_tx *tx) { batch_owner_destroy(tx); }

int pal_tx_add(pal_tx *tx, const uint8_t *data, unsigned length, const pal_peer *peer) {
    if (tx->count == tx->b.slots || length > tx->b.slot_size) return -1;
    unsigned i = tx->count++;
    uint8_t *slot = tx->b.buf + (size_t)i * tx->b.slot_size;
    memcpy(slot, data, length);
    tx->b.iovs[i].iov_base = slot;
    tx->b.iovs[i].iov_len = length;
    struct msghdr *h = &tx->b.msgs[i].msg_hdr;
    memset(h, 0, sizeof *h);
    h->msg_name = &tx->b.addrs[i];
    h->msg_namelen = sockaddr_from(peer, &tx->b.addrs[i]);
    h->msg_iov = &tx->b.iovs[i];
    h->msg_iovlen = 1;
    return 0;
}

unsigned pal_tx_count(const pal_tx *tx) { return tx->count; }

unsigned pal_tx_flush(int fd, pal_tx *tx, int *first_errno) {
    unsigned done = 0, failed = 0;
    *first_errno = 0;
    while (done < tx->count) {
        int n = sendmmsg(fd, tx->b.msgs + done, tx->count - done, MSG_DONTWAIT);
        if (n > 0) {
            done += (unsigned)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        // The datagram at `done` could not go (a full socket buffer, an unreachable peer): drop it, as the
        // network would, and go on with the rest.
        if (*first_errno == 0) *first_errno = n < 0 ? errno : EIO;
        failed++;
        done++;
    }
    tx->count = 0;
    return failed;
}

int pal_send_one(int fd, const uint8_t *data, size_t length, const pal_peer *peer) {
    struct sockaddr_storage ss;
    socklen_t len = sockaddr_from(peer, &ss);
    for (;;) {
        ssize_t n = sendto(fd, data, length, MSG_DONTWAIT, (struct sockaddr *)&ss, len);
        if (n >= 0) return 0;
        if (errno == EINTR) continue;
        return -errno;
    }
}

int pal_udp_bind(const pal_peer *local) {
    struct sockaddr_storage ss;
    socklen_t len = sockaddr_from(local, &ss);
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0
        || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0
        || bind(fd, (struct sockaddr *)&ss, len) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int pal_udp_local(int fd, pal_peer *local) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) return -errno;
    return peer_from(&ss, len, local) ? 0 : -EAFNOSUPPORT;
}

int pal_wake_create(void) {
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return fd < 0 ? -errno : fd;
}

void pal_wake_signal(int wake) {
    uint64_t one = 1;
    ssize_t r = write(wake, &one, sizeof one);
    (void)r;
}

void pal_thread_name(const char *name) {
    (void)pthread_setname_np(pthread_self(), name);
}

int pal_udp_connect(const pal_peer *server, int rcvbuf) {
    struct sockaddr_storage ss;
    socklen_t len = sockaddr_from(server, &ss);
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    // A failed SO_RCVBUF is not fatal: the kernel's default buffer still works, it only drops sooner under load.
    if (rcvbuf > 0) (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

unsigned pal_send_batch(int fd, const uint8_t *data, const unsigned *lengths, unsigned count, int *errors) {
    enum { chunk = 64 };
    struct mmsghdr msgs[chunk];
    struct iovec iovs[chunk];
    unsigned failed = 0, base = 0;
    size_t offset = 0;
    while (base < count) {
        unsigned n = count - base < chunk ? count - base : chunk;
        size_t o = offset;
        for (unsigned i = 0; i < n; i++) {
            iovs[i].iov_base = (void *)(data + o);
            iovs[i].iov_len = lengths[base + i];
            o += lengths[base + i];
            memset(&msgs[i], 0, sizeof msgs[i]);
            msgs[i].msg_hdr.msg_iov = &iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        unsigned done = 0;
        while (done < n) {
            int r = sendmmsg(fd, msgs + done, n - done, MSG_DONTWAIT);
            if (r > 0) {
                for (int k = 0; k < r; k++) errors[base + done + k] = 0;
                done += (unsigned)r;
                continue;
            }
            if (r < 0 && errno == EINTR) continue;
            // This datagram could not go; record why and go on with the rest.
            errors[base + done] = r < 0 ? errno : EIO;
            failed++;
            done++;
        }
        base += n;
        offset = o;
    }
    return failed;
}

int pal_epoll_create(void) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    return ep < 0 ? -errno : ep;
}

int pal_epoll_add(int ep, int fd, uint64_t tag) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int pal_epoll_del(int ep, int fd) {
    return epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL) < 0 ? -errno : 0;
}

int pal_epoll_wait(int ep, uint64_t *tags, int max, int timeout_ms) {
    enum { most = 64 };
    struct epoll_event evs[most];
    int n = epoll_wait(ep, evs, max < most ? max : most, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) tags[i] = evs[i].data.u64;
    return n;
}

void pal_wake_drain(int wake) {
    uint64_t value;
    ssize_t r = read(wake, &value, sizeof value);
    (void)r;
}
