#define _GNU_SOURCE
#include "CDirectUDP.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

struct pal_rx {
    unsigned slots, slot_size;
    struct mmsghdr *msgs;
    struct iovec *iovs;
    struct sockaddr_storage *addrs;
    uint8_t *buf;
};

pal_rx *pal_rx_create(unsigned slots, unsigned slot_size) {
    pal_rx *rx = calloc(1, sizeof *rx);
    if (!rx) return NULL;
    rx->slots = slots;
    rx->slot_size = slot_size;
    rx->msgs = calloc(slots, sizeof *rx->msgs);
    rx->iovs = calloc(slots, sizeof *rx->iovs);
    rx->addrs = calloc(slots, sizeof *rx->addrs);
    rx->buf = malloc((size_t)slots * slot_size);
    if (!rx->msgs || !rx->iovs || !rx->addrs || !rx->buf) {
        pal_rx_destroy(rx);
        return NULL;
    }
    for (unsigned i = 0; i < slots; i++) {
        rx->iovs[i].iov_base = rx->buf + (size_t)i * slot_size;
        rx->iovs[i].iov_len = slot_size;
    }
    return rx;
}

void pal_rx_destroy(pal_rx *rx) {
    if (!rx) return;
    free(rx->msgs);
    free(rx->iovs);
    free(rx->addrs);
    free(rx->buf);
    free(rx);
}

int pal_rx_recv(int fd, pal_rx *rx) {
    for (unsigned i = 0; i < rx->slots; i++) {
        struct msghdr *h = &rx->msgs[i].msg_hdr;
        h->msg_name = &rx->addrs[i];
        h->msg_namelen = sizeof rx->addrs[i];
        h->msg_iov = &rx->iovs[i];
        h->msg_iovlen = 1;
        h->msg_control = NULL;
        h->msg_controllen = 0;
        h->msg_flags = 0;
        rx->msgs[i].msg_len = 0;
    }
    for (;;) {
        int n = recvmmsg(fd, rx->msgs, rx->slots, MSG_DONTWAIT, NULL);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        return -errno;
    }
}

const uint8_t *pal_rx_data(const pal_rx *rx, unsigned i, unsigned *length, int *truncated) {
    *length = rx->msgs[i].msg_len;
    *truncated = (rx->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
    return rx->buf + (size_t)i * rx->slot_size;
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
    return peer_from(&rx->addrs[i], rx->msgs[i].msg_hdr.msg_namelen, peer);
}

struct pal_tx {
    unsigned slots, slot_size, count;
    struct mmsghdr *msgs;
    struct iovec *iovs;
    struct sockaddr_storage *addrs;
    uint8_t *buf;
};

pal_tx *pal_tx_create(unsigned slots, unsigned slot_size) {
    pal_tx *tx = calloc(1, sizeof *tx);
    if (!tx) return NULL;
    tx->slots = slots;
    tx->slot_size = slot_size;
    tx->msgs = calloc(slots, sizeof *tx->msgs);
    tx->iovs = calloc(slots, sizeof *tx->iovs);
    tx->addrs = calloc(slots, sizeof *tx->addrs);
    tx->buf = malloc((size_t)slots * slot_size);
    if (!tx->msgs || !tx->iovs || !tx->addrs || !tx->buf) {
        pal_tx_destroy(tx);
        return NULL;
    }
    return tx;
}

void pal_tx_destroy(pal_tx *tx) {
    if (!tx) return;
    free(tx->msgs);
    free(tx->iovs);
    free(tx->addrs);
    free(tx->buf);
    free(tx);
}

int pal_tx_add(pal_tx *tx, const uint8_t *data, unsigned length, const pal_peer *peer) {
    if (tx->count == tx->slots || length > tx->slot_size) return -1;
    unsigned i = tx->count++;
    uint8_t *slot = tx->buf + (size_t)i * tx->slot_size;
    memcpy(slot, data, length);
    tx->iovs[i].iov_base = slot;
    tx->iovs[i].iov_len = length;
    struct msghdr *h = &tx->msgs[i].msg_hdr;
    memset(h, 0, sizeof *h);
    h->msg_name = &tx->addrs[i];
    h->msg_namelen = sockaddr_from(peer, &tx->addrs[i]);
    h->msg_iov = &tx->iovs[i];
    h->msg_iovlen = 1;
    return 0;
}

unsigned pal_tx_count(const pal_tx *tx) { return tx->count; }

unsigned pal_tx_flush(int fd, pal_tx *tx, int *first_errno) {
    unsigned done = 0, failed = 0;
    *first_errno = 0;
    while (done < tx->count) {
        int n = sendmmsg(fd, tx->msgs + done, tx->count - done, MSG_DONTWAIT);
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

int pal_wait(int fd, int wake) {
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = wake, .events = POLLIN}};
    for (;;) {
        int n = poll(p, 2, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (p[1].revents) return 0;
        if (p[0].revents & (POLLIN | POLLERR)) return 1;
        if (p[0].revents & (POLLNVAL | POLLHUP)) return -EBADF;
    }
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
