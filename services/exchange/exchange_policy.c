/* exchange_policy: the policy in force, reloaded on change. See exchange_policy.h. */
#include "exchange_policy.h"

#include "cpm_log.h"
#include "cpm_xpolicy_doc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FLOOR_KEY "policy.version" /* meta: the highest version ever in force */

struct exchange_policy {
    cpm_store_t *st; /* where the highest version in force is remembered */
    uint64_t floor;
    char *path;
    Cpm__ExchangePolicy *current;
    struct timespec mtime;
    off_t size;
    ino_t ino; /* a file replaced within the clock's granularity is another inode */
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
    /* Older than any policy this exchange ever had in force (remembered in
     * its store across restarts): a restored old file must not come back. */
    if (rc == 0 && next->version < p->floor)
        rc = cpm_error_set(&err, CPM_E_CONFLICT, "version",
                           "policy version %llu is older than version %llu, already in force",
                           (unsigned long long)next->version, (unsigned long long)p->floor);
    MDB_txn *txn = NULL;
    if (rc == 0 && next->version > p->floor && p->st) {
        int w = cpm_store_begin(p->st, true, &txn);
        if (w == 0 && (w = cpm_store_put_u64(p->st, txn, FLOOR_KEY, next->version)) == 0)
            w = cpm_store_commit(txn);
        else
            cpm_store_abort(&txn);
        if (w != 0)
            rc = cpm_error_set(&err, w, "version", "cannot record policy version %llu: %s",
                               (unsigned long long)next->version, cpm_err_name(w));
        else
            p->floor = next->version;
    }
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
    p->ino = sb.st_ino;
    load(p, x);
}

exchange_policy_t *exchange_policy_new(const char *path, const exchange_t *x, cpm_store_t *st)
{
    exchange_policy_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->st = st;
    MDB_txn *txn = NULL;
    if (st && cpm_store_begin(st, false, &txn) == 0) {
        if (cpm_store_get_u64(st, txn, FLOOR_KEY, &p->floor) != 0)
            p->floor = 0;
        cpm_store_abort(&txn);
    }
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
