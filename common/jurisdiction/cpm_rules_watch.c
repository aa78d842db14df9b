/* cpm_rules_watch: see cpm_rules_watch.h. */
#include "cpm_rules_watch.h"

#include "cpm_log.h"
#include "cpm_rules_int.h"
#include "cpm_util.h"

#include <sodium.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct cpm_rules_watch {
    char *path;
    char service[64];
    cpm_rules_t *rules;
    struct stat st; /* of the file last looked at (taken or refused) */
    bool have_st;
    int64_t next_ms; /* monotonic: the next look at the file */
};

static bool same_stat(const struct stat *a, const struct stat *b)
{
    return a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ino == b->st_ino && a->st_size == b->st_size;
}

int cpm_rules_watch_new(const char *path, const char *service, cpm_rules_watch_t **out,
                        cpm_error_t *err)
{
    *out = NULL;
    cpm_rules_watch_t *w = calloc(1, sizeof *w);
    if (!w || !path || !(w->path = strdup(path))) {
        cpm_rules_watch_destroy(&w);
        return cpm_error_set(err, CPM_E_INTERNAL, "rules", "out of memory");
    }
    snprintf(w->service, sizeof w->service, "%s", service ? service : "");
    /* stat before load: a change in between is seen at the first check. */
    w->have_st = stat(path, &w->st) == 0;
    int rc = cpm_rules_load(path, &w->rules, err);
    if (rc != 0) {
        cpm_rules_watch_destroy(&w);
        return rc;
    }
    if (*w->service)
        cpm_rules_set_service(w->rules, w->service);
    w->next_ms = cpm_mono_ms() + 1000;
    *out = w;
    return 0;
}

void cpm_rules_watch_destroy(cpm_rules_watch_t **p)
{
    if (!p || !*p)
        return;
    cpm_rules_destroy(&(*p)->rules);
    free((*p)->path);
    free(*p);
    *p = NULL;
}

cpm_rules_t *cpm_rules_watch_rules(const cpm_rules_watch_t *w)
{
    return w ? w->rules : NULL;
}

static int refuse(cpm_metrics_t *m, const char *path, int code, const char *why)
{
    cpm_warn("rules %s refused, the rules in force stay: %s", path, why);
    if (m)
        cpm_metrics_add(m, "rules.refused", 1);
    return code;
}

int cpm_rules_watch_check(cpm_rules_watch_t *w, cpm_metrics_t *m)
{
    int64_t now = cpm_mono_ms();
    if (!w || now < w->next_ms)
        return 0;
    w->next_ms = now + 1000;
    struct stat st;
    if (stat(w->path, &st) != 0) {
        /* Gone (perhaps being replaced): refused once, not every second. */
        if (!w->have_st)
            return 0;
        w->have_st = false;
        return refuse(m, w->path, CPM_E_NOT_FOUND, strerror(errno));
    }
    if (w->have_st && same_stat(&st, &w->st))
        return 0;
    w->st = st;
    w->have_st = true;
    cpm_error_t err;
    cpm_rules_t *n;
    int rc = cpm_rules_load(w->path, &n, &err);
    if (rc != 0)
        return refuse(m, w->path, rc, err.message);
    if (sodium_memcmp(n->digest, w->rules->digest, sizeof n->digest) == 0) {
        cpm_rules_destroy(&n);
        return 0;
    }
    if (n->version <= w->rules->version) {
        cpm_error_set(&err, CPM_E_CONFLICT, "version",
                      "version: %u is not above the version in force, %u (a changed file needs a "
                      "higher version: every routing decision records it)",
                      n->version, w->rules->version);
        cpm_rules_destroy(&n);
        return refuse(m, w->path, err.code, err.message);
    }
    if (*w->service)
        cpm_rules_set_service(n, w->service);
    uint32_t was = w->rules->version;
    /* Swap contents, so every holder of w->rules sees the new ones. */
    cpm_rules_t tmp = *w->rules;
    *w->rules = *n;
    *n = tmp;
    cpm_rules_destroy(&n);
    cpm_info("rules %s version %u loaded (was %u)", w->path, w->rules->version, was);
    if (m)
        cpm_metrics_add(m, "rules.loaded", 1);
    return 1;
}
