// Thin, out-of-line wrappers over the GNU/Linux calls that `import Glibc`
// does not expose (it is built without _GNU_SOURCE). Symbols carry `sl_`.
#pragma once
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>

// epoll_event arrives packed (12 bytes) on x86_64; we expose our own
// unpacked mirror and convert in C so Swift never touches the packed layout.
typedef struct { uint32_t events; uint64_t data; } sl_event;

extern const uint32_t SL_EPOLLIN, SL_EPOLLOUT, SL_EPOLLRDHUP, SL_EPOLLERR, SL_EPOLLHUP, SL_EPOLLET, SL_EPOLLEXCLUSIVE;

int sl_epoll_create(void);
int sl_epoll_ctl(int ep, int op, int fd, uint32_t events, uint64_t data);
int sl_epoll_add(int ep, int fd, uint32_t events, uint64_t data);
int sl_epoll_mod(int ep, int fd, uint32_t events, uint64_t data);
int sl_epoll_del(int ep, int fd);
/// Waits and copies up to `max` events into `out`; returns epoll_wait's result.
int sl_epoll_wait(int ep, sl_event *out, int max, int timeout_ms);

int sl_eventfd(void);
int sl_eventfd_signal(int fd);
int sl_eventfd_drain(int fd);

int sl_accept4(int fd, struct sockaddr *addr, socklen_t *len);
/// Non-blocking, close-on-exec TCP socket for `family`.
int sl_tcp_socket(int family);
int sl_set_int_opt(int fd, int level, int name, int value);
int sl_get_int_opt(int fd, int level, int name);
int sl_set_nodelay(int fd);
int sl_set_reuseport(int fd);
int sl_socket_error(int fd);

int sl_pin_current_thread(int cpu);
int sl_set_thread_name(const char *name);
int sl_cpu_count(void);
/// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the new soft limit.
long sl_raise_nofile(void);

/// CLOCK_MONOTONIC in nanoseconds (vDSO, no syscall).
uint64_t sl_monotonic_ns(void);
/// CLOCK_MONOTONIC_COARSE in milliseconds (vDSO, tick resolution).
uint64_t sl_coarse_ms(void);
/// CLOCK_REALTIME in milliseconds since the epoch.
uint64_t sl_realtime_ms(void);

extern const int SL_EAGAIN, SL_EINTR, SL_EINPROGRESS, SL_ECONNRESET, SL_EPIPE;
