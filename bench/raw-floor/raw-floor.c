/*
 * raw-floor: the floor of a UDP DNS responder on this machine without SwiftNIO: one thread, one socket,
 * recvmmsg and sendmmsg called directly, nothing else per query. The counterpart of bench/nio-floor's echo and
 * answer modes, to measure what SwiftNIO's datagram machinery costs per query.
 *
 *   raw-floor [HOST:]PORT            echo: every datagram back with QR set
 *   raw-floor [HOST:]PORT answer     the question and one A record (192.0.2.1), as nio-floor's answer mode; passes
 *                                    the harness's readiness probes, so it runs as its SUT:
 *   SUT_NAME=rawanswer SUT_CMD="bench/raw-floor/raw-floor {listen} answer" SUT_NO_POLICY=1 ../shared/bench/run.sh
 *
 * Build: cc -O2 -o bench/raw-floor/raw-floor bench/raw-floor/raw-floor.c  (bench/raw-floor/run.sh does it).
 * A datagram too short or with a malformed question is dropped; a failed send is dropped too.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 32
#define SIZE 4096

static const unsigned char record[] = {
    0xC0, 0x0C, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0E, 0x10, 0x00, 0x04, 192, 0, 2, 1};

/* Writes the answer to q (n bytes) into out; returns its length, or 0 to drop the query. */
static size_t answer(const unsigned char *q, size_t n, unsigned char *out, int echo) {
    if (n < 12) return 0;
    if (echo) {
        memcpy(out, q, n);
        out[2] |= 0x80;
        return n;
    }
    size_t i = 12;
    while (i < n && q[i] != 0) {
        if (q[i] > 63) return 0;
        i += (size_t)q[i] + 1;
    }
    size_t end = i + 5;
    if (n < 17 || end > n || end + sizeof record > SIZE) return 0;
    memcpy(out, q, end);
    out[2] = q[2] | 0x80;
    out[3] = 0x80;
    out[4] = 0; out[5] = 1;
    out[6] = 0; out[7] = 1;
    out[8] = out[9] = out[10] = out[11] = 0;
    memcpy(out + end, record, sizeof record);
    return end + sizeof record;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: raw-floor [HOST:]PORT [answer]\n");
        return 2;
    }
    const char *host = "127.0.0.1";
    char buf[256];
    const char *colon = strrchr(argv[1], ':');
    int port;
    if (colon) {
        size_t len = (size_t)(colon - argv[1]);
        if (len >= sizeof buf) { fprintf(stderr, "raw-floor: host too long: %s\n", argv[1]); return 2; }
        memcpy(buf, argv[1], len);
        buf[len] = 0;
        host = buf;
        port = atoi(colon + 1);
    } else {
        port = atoi(argv[1]);
    }
    int echo = !(argc > 2 && strcmp(argv[2], "answer") == 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    if (port <= 0 || port > 65535 || inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "raw-floor: not an IPv4 address and port: %s\n", argv[1]);
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        perror("raw-floor: bind");
        return 1;
    }
    static unsigned char in[BATCH][SIZE], out[BATCH][SIZE];
    static struct sockaddr_in peers[BATCH];
    struct iovec iin[BATCH], iout[BATCH];
    struct mmsghdr rmsg[BATCH], smsg[BATCH];
    for (;;) {
        for (int k = 0; k < BATCH; k++) {
            iin[k] = (struct iovec){.iov_base = in[k], .iov_len = SIZE};
            rmsg[k] = (struct mmsghdr){.msg_hdr = {.msg_name = &peers[k], .msg_namelen = sizeof peers[k],
                .msg_iov = &iin[k], .msg_iovlen = 1}};
        }
        int got = recvmmsg(fd, rmsg, BATCH, MSG_WAITFORONE, NULL);
        if (got < 0) {
            if (errno == EINTR) continue;
            perror("raw-floor: recvmmsg");
            return 1;
        }
        int m = 0;
        for (int k = 0; k < got; k++) {
            size_t len = answer(in[k], rmsg[k].msg_len, out[m], echo);
            if (len == 0) continue;
            iout[m] = (struct iovec){.iov_base = out[m], .iov_len = len};
            smsg[m] = (struct mmsghdr){.msg_hdr = {.msg_name = &peers[k], .msg_namelen = rmsg[k].msg_hdr.msg_namelen,
                .msg_iov = &iout[m], .msg_iovlen = 1}};
            m++;
        }
        int sent = 0;
        while (sent < m) {
            int r = sendmmsg(fd, smsg + sent, (unsigned)(m - sent), 0);
            if (r < 0) {
                if (errno == EINTR) continue;
                break; /* dropped, as a full socket buffer would drop it */
            }
            sent += r;
        }
    }
}
