#ifndef CLINUX_SHIM_H
#define CLINUX_SHIM_H
// Thin, copy-free wrappers over glibc calls that Swift's Glibc module does not expose (epoll, eventfd,
// accept4, and posix_spawn's chdir/closefrom actions, which the tests use to start the binary). epoll_event is a packed struct on x86_64, awkward to import, so events cross as a plain struct.
#include <stdint.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef struct {
    uint32_t events;
    uint64_t data;
} clinux_event;

static const uint32_t CLINUX_EPOLLIN = EPOLLIN;
static const uint32_t CLINUX_EPOLLOUT = EPOLLOUT;
static const uint32_t CLINUX_EPOLLERR = EPOLLERR;
static const uint32_t CLINUX_EPOLLHUP = EPOLLHUP;
static const uint32_t CLINUX_EPOLLRDHUP = EPOLLRDHUP;
static const uint32_t CLINUX_EPOLLET = EPOLLET;
static const uint32_t CLINUX_EPOLLEXCLUSIVE = EPOLLEXCLUSIVE;

// An unnamed file in `directory` (O_TMPFILE), or -1 where the file system cannot make one.
static inline int clinux_open_tmpfile(const char *directory) {
#ifdef O_TMPFILE
    return open(directory, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
#else
    return -1;
#endif
}

// mkstemp with O_CLOEXEC, for file systems without O_TMPFILE (the caller unlinks the name at once).
static inline int clinux_mkstemp_cloexec(char *template_path) { return mkostemp(template_path, O_CLOEXEC); }

static inline int clinux_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

static inline int clinux_epoll_add(int epfd, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static inline int clinux_epoll_del(int epfd, int fd) {
    struct epoll_event ev = {0};
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev);
}

static inline int clinux_epoll_wait(int epfd, clinux_event *out, int max, int timeout_ms) {
    struct epoll_event evs[256];
    if (max > 256) max = 256;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    for (int i = 0; i < n; i++) {
        out[i].events = evs[i].events;
        out[i].data = evs[i].data.u64;
    }
    return n;
}

static inline int clinux_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

// Declared here rather than by defining _GNU_SOURCE, which would make these headers disagree with Glibc's.
extern int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);

static inline int clinux_accept(int fd, struct sockaddr *addr, socklen_t *len) {
    return accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

// Lowers the calling thread's priority (on Linux, nice is per thread): for CPU-heavy work such as password
// hashing that must not starve the threads serving requests.
static inline int clinux_nice_this_thread(int nice) {
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice);
}

// glibc 2.29 / 2.34. Foundation's Process.run() cannot be used instead: on Swift 6.3.1 it over-reads
// /proc/self/fd dirents and crashes now and then (swift-corelibs-foundation PR #5472).
extern int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *actions, const char *path);
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);
#endif
