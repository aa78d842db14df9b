/* cpm_clock: the offset file behind cpm_now_ms (see cpm_clock.h). */
#include "cpm_clock.h"
#include "cpm_log.h"
#include "cpm_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Under clk_lock: the loop thread and the verification pool's threads (which
 * seal replies, reading the time) ask at once when the offset file is set. */
static pthread_mutex_t clk_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    bool loaded;        /* read at least once */
    int64_t read_at_ms; /* monotonic time of the last read */
    int64_t offset_ms;
    char bad[160]; /* why the last read gave 0 ("" = fine), so it is logged once */
} clk;

int cpm_clock_parse(const char *text, int64_t *ms)
{
    if (!text)
        return -1;
    while (*text == ' ' || *text == '\t')
        text++;
    errno = 0;
    char *end;
    long long v = strtoll(text, &end, 10);
    if (end == text || errno != 0)
        return -1;
    while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
        end++;
    if (*end || v > CPM_CLOCK_OFFSET_MAX_MS || v < -CPM_CLOCK_OFFSET_MAX_MS)
        return -1;
    *ms = (int64_t)v;
    return 0;
}

/* The offset in path, or 0 with why in bad. */
static int64_t read_offset(const char *path, char *bad, size_t badlen)
{
    bad[0] = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(bad, badlen, "cannot open it (%s)", strerror(errno));
        return 0;
    }
    struct stat sb;
    char buf[64];
    ssize_t n = -1;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
        snprintf(bad, badlen, "it is not a regular file");
    else if (sb.st_uid != geteuid())
        snprintf(bad, badlen, "it is not owned by this user");
    else if ((n = read(fd, buf, sizeof buf - 1)) < 0)
        snprintf(bad, badlen, "cannot read it (%s)", strerror(errno));
    close(fd);
    if (bad[0])
        return 0;
    buf[n] = 0;
    int64_t ms;
    if (cpm_clock_parse(buf, &ms) != 0) {
        snprintf(bad, badlen, "it does not hold one number of milliseconds");
        return 0;
    }
    return ms;
}

bool cpm_clock_expire(void)
{
    const char *path = getenv(CPM_CLOCK_ENV);
    if (!path || !*path)
        return false;
    pthread_mutex_lock(&clk_lock);
    clk.loaded = false;
    pthread_mutex_unlock(&clk_lock);
    return true;
}

/* A child forked while another thread held the lock starts with it free. */
static void clk_lock_reset(void)
{
    pthread_mutex_init(&clk_lock, NULL);
}

static pthread_once_t clk_once = PTHREAD_ONCE_INIT;
static void clk_init(void)
{
    pthread_atfork(NULL, NULL, clk_lock_reset);
}

int64_t cpm_clock_offset_ms(void)
{
    const char *path = getenv(CPM_CLOCK_ENV);
    if (!path || !*path)
        return 0;
    pthread_once(&clk_once, clk_init);
    int64_t mono = cpm_mono_ms();
    pthread_mutex_lock(&clk_lock);
    if (clk.loaded && mono - clk.read_at_ms < CPM_CLOCK_REREAD_MS) {
        int64_t off = clk.offset_ms;
        pthread_mutex_unlock(&clk_lock);
        return off;
    }
    char bad[sizeof clk.bad];
    int64_t off = read_offset(path, bad, sizeof bad);
    bool tell = bad[0] && strcmp(bad, clk.bad) != 0;
    bool moved = off != clk.offset_ms; /* also the first time: a moved clock is news */
    clk.loaded = true;
    clk.read_at_ms = mono;
    clk.offset_ms = off;
    snprintf(clk.bad, sizeof clk.bad, "%s", bad);
    pthread_mutex_unlock(&clk_lock);
    /* Logged after the state is set and the lock let go: the log line asks
     * for the time again. */
    if (tell)
        cpm_warn("clock offset file %s (%s, a test facility): %s; offset 0", path, CPM_CLOCK_ENV,
                 bad);
    else if (moved)
        cpm_info("clock offset is now %lld ms (%s)", (long long)off, CPM_CLOCK_ENV);
    return off;
}
