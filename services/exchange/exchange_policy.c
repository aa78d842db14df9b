/* exchange_policy: the policy in force, reloaded on change. See exchange_policy.h. */
#include "exchange_policy.h"

#include "cpm_log.h"
#include "cpm_xpolicy_doc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#define FLOOR_KEY "policy.version" /* meta: the highest version ever in force */

struct exchange_policy {
    cpm_store_t *st; /* where the highest version in force is remembered */
    uint64_t floor;
    char *path;
    Cpm__ExchangePolicy *current;
    uint8_t seen_hash[32]; /* SHA-256 of the file last looked at */
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

static void load(exchange_policy_t *p, const exchange_t *x, const uint8_t *buf, size_t len)
{
    cpm_error_t err = {0};
    Cpm__ExchangePolicy *next = NULL;
    int rc = cpm_xpolicy_open(buf, len, x->reg, x->node, &next, &err);
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
    if (!p || !p->path)
        return;
    /* The file is small (at most CPM_XPOLICY_MAX_BYTES) and looked at once a
     * second: its content, not its time stamp, says whether it changed (a
     * file replaced within the clock's granularity keeps size and time). */
    uint8_t *buf = NULL, h[32];
    size_t len = 0;
    if (read_file(p->path, &buf, &len) != 0) {
        free(buf);
        if (p->seen || !p->current) {
            p->seen = false;
            cpm_warn("exchange policy %s cannot be read; %s", p->path,
                     p->current ? "the policy in force stays" : "nothing is shared with others");
        }
        return;
    }
    crypto_hash_sha256(h, buf, len);
    if (!p->seen || memcmp(h, p->seen_hash, 32) != 0) {
        p->seen = true;
        memcpy(p->seen_hash, h, 32);
        load(p, x, buf, len);
    }
    free(buf);
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
