/* cpm_threadtime: see cpm_threadtime.h. */
#include "cpm_threadtime.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* One decimal count at *p, then one space or the end: false when not. */
static bool count_at(const char **p, uint64_t *out)
{
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return false;
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (*s != ' ' && *s != '\n' && *s != 0)
        return false;
    while (*s == ' ')
        s++;
    *p = s;
    *out = v;
    return true;
}

int cpm_threadtime_parse(const char *text, cpm_threadtime_t *t)
{
    uint64_t cpu, wait, slices;
    const char *p = text;
    if (!p || !count_at(&p, &cpu) || !count_at(&p, &wait) || !count_at(&p, &slices))
        return -1;
    if (*p == '\n')
        p++;
    if (*p != 0)
        return -1;
    t->cpu_ns = cpu;
    t->wait_ns = wait;
    t->has_wait = true;
    return 0;
}

int cpm_threadtime_now(cpm_threadtime_t *t)
{
    char buf[128];
    int fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n;
        do
            n = read(fd, buf, sizeof buf - 1);
        while (n < 0 && errno == EINTR);
        close(fd);
        if (n > 0) {
            buf[n] = 0;
            /* a kernel without schedstat's figures writes zeros */
            if (cpm_threadtime_parse(buf, t) == 0 && t->cpu_ns != 0)
                return 0;
        }
    }
    struct timespec ts; /* a kernel without schedstat: the CPU time alone */
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return -1;
    t->cpu_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    t->wait_ns = 0;
    t->has_wait = false;
    return 0;
}

uint64_t cpm_threadtime_ms_due(uint64_t total_ns, uint64_t *counted_ms)
{
    uint64_t total_ms = total_ns / 1000000u;
    if (total_ms <= *counted_ms)
        return 0;
    uint64_t due = total_ms - *counted_ms;
    *counted_ms = total_ms;
    return due;
}
