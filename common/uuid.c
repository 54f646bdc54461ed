/* UUIDv7 generation; see uuid.h. Per-thread state: a small random pool (one
 * getrandom(2) call per 16 ids) and the last timestamp and counter. */
#include "fmacros.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "timefmt.h"
#include "uuid.h"

/* Bumped in every forked child (pthread_atfork), so a child never hands
 * out bits of the pool it inherited; cheaper than getpid() per id. */
static volatile unsigned fork_gen = 1;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void
on_fork_child(void)
{
    fork_gen++;
}

static void
atfork_register(void)
{
    /* On failure (ENOMEM) the pool is still refilled every 256 bytes. */
    (void)pthread_atfork(NULL, NULL, on_fork_child);
}

static _Thread_local struct {
    unsigned gen;            /* fork_gen the pool was filled under */
    unsigned char pool[256]; /* random bytes not handed out yet */
    size_t left;             /* bytes left at the end of pool */
    int64_t last_ms;         /* timestamp of the last id */
    unsigned counter;        /* 12-bit counter of the last id */
} st;

/* Fill buf from the kernel; abort when there is no randomness at all. */
static void
fill_random(unsigned char *buf, size_t n)
{
    size_t got = 0;
    int fd;

    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        break;
    }
    if (got == n)
        return;
    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    while (fd >= 0 && got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r > 0)
            got += (size_t)r;
        else if (r < 0 && errno == EINTR)
            continue;
        else
            break;
    }
    if (fd >= 0)
        close(fd);
    if (got < n) {
        fputs("genq: no randomness source (getrandom, /dev/urandom)\n", stderr);
        abort();
    }
}

/* Random bytes from the per-thread pool. A forked child discards the pool
 * and the counter it inherited, so parent and children never share bits. */
static void
rand_bytes(unsigned char *out, size_t n)
{
    pthread_once(&atfork_once, atfork_register);
    if (st.gen != fork_gen) {
        st.gen = fork_gen;
        st.left = 0;
        st.last_ms = 0;
    }
    while (n > 0) {
        size_t k;
        if (st.left == 0) {
            fill_random(st.pool, sizeof st.pool);
            st.left = sizeof st.pool;
        }
        k = n < st.left ? n : st.left;
        memcpy(out, st.pool + sizeof st.pool - st.left, k);
        st.left -= k;
        out += k;
        n -= k;
    }
}

/* A fresh counter: random, top bit clear, so at least 2048 ids fit in a
 * millisecond before it borrows the next one. */
static unsigned
counter_seed(void)
{
    unsigned char b[2];

    rand_bytes(b, 2);
    return ((unsigned)b[0] << 8 | b[1]) & 0x7FF;
}

void
uuid7_new(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    static const unsigned char at[16] = {0,  2,  4,  6,  9,  11, 14, 16,
                                         19, 21, 24, 26, 28, 30, 32, 34};
    unsigned char u[16];
    int64_t now = time_now_ms();
    uint64_t ts;

    rand_bytes(u + 8, 8); /* also resets the state after fork() */
    if (now > st.last_ms) {
        st.last_ms = now;
        st.counter = counter_seed();
    } else if (++st.counter > 0xFFF) {
        st.last_ms++; /* counter overflow or clock stepped back */
        st.counter = counter_seed();
    }
    ts = (uint64_t)st.last_ms;
    for (int i = 0; i < 6; i++)
        u[i] = (unsigned char)(ts >> (40 - 8 * i));
    u[6] = (unsigned char)(0x70 | (st.counter >> 8));
    u[7] = (unsigned char)(st.counter & 0xFF);
    u[8] = (unsigned char)((u[8] & 0x3F) | 0x80);

    /* 8-4-4-4-12, no branch per byte (`genq enqueue` makes one per line) */
    for (int i = 0; i < 16; i++) {
        out[at[i]] = hex[u[i] >> 4];
        out[at[i] + 1] = hex[u[i] & 15];
    }
    out[8] = out[13] = out[18] = out[23] = '-';
    out[36] = '\0';
}

int
uuid7_valid(const char *s)
{
    if (!s)
        return 0;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                     (c >= 'A' && c <= 'F'))) {
            return 0;
        }
    }
    if (s[36] != '\0' || s[14] != '7')
        return 0;
    return s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b' ||
           s[19] == 'A' || s[19] == 'B';
}
