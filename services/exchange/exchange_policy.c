/* exchange_policy: the policy in force, reloaded on change. See exchange_policy.h. */
#include "exchange_policy.h"

#include "cpm_log.h"
#include "cpm_xpolicy_doc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct exchange_policy {
    char *path;
    Cpm__ExchangePolicy *current;
    struct timespec mtime;
    off_t size;
    bool seen;
};

static int read_file(const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    *buf = malloc(CPM_XPOLICY_MAX_BYTES + 1);
    *len = *buf ? fread(*buf, 1, CPM_XPOLICY_MAX_BYTES + 1, f) : 0;
    fclose(f);
    return *buf ? 0 : -1;
}

static void load(exchange_policy_t *p, const exchange_t *x)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    cpm_error_t err = {0};
    Cpm__ExchangePolicy *next = NULL;
    int rc =
        read_file(p->path, &buf, &len) != 0
            ? cpm_error_set(&err, CPM_E_NOT_FOUND, "exchange_policy", "cannot read %s", p->path)
            : cpm_xpolicy_open(buf, len, x->reg, x->node, &next, &err);
    free(buf);
    if (rc == 0 && p->current && next->version < p->current->version)
        rc = cpm_error_set(&err, CPM_E_CONFLICT, "version",
                           "policy version %llu is older than the one in force (%llu)",
                           (unsigned long long)next->version,
                           (unsigned long long)p->current->version);
    if (rc != 0) {
        exchange_count(x, "exchange.policy_refused");
        cpm_warn("exchange policy %s refused (%s): %s; %s", p->path, err.field, err.message,
                 p->current ? "the policy in force stays" : "nothing is shared with others");
        if (next)
            cpm__exchange_policy__free_unpacked(next, NULL);
        return;
    }
    if (p->current)
        cpm__exchange_policy__free_unpacked(p->current, NULL);
    p->current = next;
    exchange_count(x, "exchange.policy_loaded");
    cpm_info("exchange policy version %llu in force: %zu rules", (unsigned long long)next->version,
             next->n_rules);
}

void exchange_policy_tick(exchange_policy_t *p, const exchange_t *x)
{
    struct stat sb;
    if (!p || !p->path)
        return;
    if (stat(p->path, &sb) != 0) {
        if (p->seen || !p->current) {
            p->seen = false;
            cpm_warn("exchange policy %s cannot be read; %s", p->path,
                     p->current ? "the policy in force stays" : "nothing is shared with others");
        }
        return;
    }
    if (p->seen && sb.st_mtim.tv_sec == p->mtime.tv_sec && sb.st_mtim.tv_nsec == p->mtime.tv_nsec &&
        sb.st_size == p->size)
        return;
    p->seen = true;
    p->mtime = sb.st_mtim;
    p->size = sb.st_size;
    load(p, x);
}

exchange_policy_t *exchange_policy_new(const char *path, const exchange_t *x)
{
    exchange_policy_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    if (path && !(p->path = strdup(path))) {
        free(p);
        return NULL;
    }
    if (!path)
        cpm_info("no exchange_policy configured: nothing is shared with other agencies");
    exchange_policy_tick(p, x);
    return p;
}

void exchange_policy_destroy(exchange_policy_t **pp)
{
    exchange_policy_t *p = *pp;
    if (!p)
        return;
    if (p->current)
        cpm__exchange_policy__free_unpacked(p->current, NULL);
    free(p->path);
    free(p);
    *pp = NULL;
}

const Cpm__ExchangePolicy *exchange_policy_current(const exchange_policy_t *p)
{
    return p ? p->current : NULL;
}
