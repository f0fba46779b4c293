// Interposes the allocator entry points and forwards to glibc's own
// (__libc_*), counting each call. Why: the zero-allocations-per-request
// test counts what the real binary allocates while it serves requests.
#define _GNU_SOURCE
#include "CAllocCount.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static _Atomic uint64_t count;
static const char *path;

uint64_t sl_alloc_count(void) { return atomic_load_explicit(&count, memory_order_relaxed); }

static inline void counted(void) { atomic_fetch_add_explicit(&count, 1, memory_order_relaxed); }

void *malloc(size_t n) { counted(); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { counted(); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { counted(); return __libc_realloc(p, n); }
void *memalign(size_t al, size_t n) { counted(); return __libc_memalign(al, n); }
void *aligned_alloc(size_t al, size_t n) { counted(); return __libc_memalign(al, n); }
int posix_memalign(void **out, size_t al, size_t n) {
    counted();
    void *p = __libc_memalign(al, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

// Async-signal-safe: formats the number by hand and writes it with write(2).
static void dump(int sig) {
    (void)sig;
    if (!path) return;
    char buf[32];
    int n = 0;
    uint64_t v = sl_alloc_count();
    char tmp[24];
    do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    for (int i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
    buf[n++] = '\n';
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;
    ssize_t w = write(fd, buf, (size_t)n);
    (void)w;
    close(fd);
}

__attribute__((constructor)) static void setup(void) {
    path = getenv("SLUICE_ALLOC_COUNT_FILE");
    if (path) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = dump;
        sa.sa_flags = SA_RESTART;
        sigaction(SIGUSR2, &sa, NULL);
    }
}
