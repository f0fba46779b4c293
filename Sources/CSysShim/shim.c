#ifndef _GNU_SOURCE
#error "CSysShim must be compiled with _GNU_SOURCE"
#endif
#include "CSysShim.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>

const uint32_t SL_EPOLLIN = EPOLLIN, SL_EPOLLOUT = EPOLLOUT, SL_EPOLLRDHUP = EPOLLRDHUP,
    SL_EPOLLERR = EPOLLERR, SL_EPOLLHUP = EPOLLHUP, SL_EPOLLET = EPOLLET, SL_EPOLLEXCLUSIVE = EPOLLEXCLUSIVE;
const int SL_EAGAIN = EAGAIN, SL_EINTR = EINTR, SL_EINPROGRESS = EINPROGRESS,
    SL_ECONNRESET = ECONNRESET, SL_EPIPE = EPIPE;

int sl_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int sl_epoll_ctl(int ep, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev; ev.events = events; ev.data.u64 = data;
    return epoll_ctl(ep, op, fd, &ev);
}
int sl_epoll_add(int ep, int fd, uint32_t events, uint64_t data) { return sl_epoll_ctl(ep, EPOLL_CTL_ADD, fd, events, data); }
int sl_epoll_mod(int ep, int fd, uint32_t events, uint64_t data) { return sl_epoll_ctl(ep, EPOLL_CTL_MOD, fd, events, data); }
int sl_epoll_del(int ep, int fd) { return epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL); }

int sl_epoll_wait(int ep, sl_event *out, int max, int timeout_ms) {
    struct epoll_event evs[256];
    if (max > 256) max = 256;
    int n = epoll_wait(ep, evs, max, timeout_ms);
    for (int i = 0; i < n; i++) { out[i].events = evs[i].events; out[i].data = evs[i].data.u64; }
    return n;
}

int sl_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }
int sl_eventfd_signal(int fd) { uint64_t one = 1; return (int)write(fd, &one, sizeof one); }
int sl_eventfd_drain(int fd) { uint64_t v; return (int)read(fd, &v, sizeof v); }

int sl_accept4(int fd, struct sockaddr *addr, socklen_t *len) {
    return accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}
int sl_tcp_socket(int family) { return socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); }
int sl_set_int_opt(int fd, int level, int name, int value) { return setsockopt(fd, level, name, &value, sizeof value); }
int sl_get_int_opt(int fd, int level, int name) {
    int v = 0; socklen_t l = sizeof v;
    if (getsockopt(fd, level, name, &v, &l) != 0) return -1;
    return v;
}
int sl_set_nodelay(int fd) { return sl_set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, 1); }
int sl_set_reuseport(int fd) { return sl_set_int_opt(fd, SOL_SOCKET, SO_REUSEPORT, 1); }
int sl_socket_error(int fd) { return sl_get_int_opt(fd, SOL_SOCKET, SO_ERROR); }

int sl_pin_current_thread(int cpu) {
    cpu_set_t set; CPU_ZERO(&set); CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}
int sl_set_thread_name(const char *name) { return pthread_setname_np(pthread_self(), name); }
int sl_cpu_count(void) {
    cpu_set_t set; CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
long sl_raise_nofile(void) {
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) != 0) return -1;
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
    getrlimit(RLIMIT_NOFILE, &r);
    return (long)r.rlim_cur;
}

uint64_t sl_monotonic_ns(void) {
    struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
uint64_t sl_coarse_ms(void) {
    struct timespec ts; clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000ull;
}
uint64_t sl_realtime_ms(void) {
    struct timespec ts; clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000ull;
}
