/* cpm_store: one service's LMDB environment. See cpm_store.h. */
#include "cpm_store.h"
#include "cpm_pbcheck.h"
#include "cpm_store_int.h"

#include "cpm_err.h"
#include "cpm_journal.h"
#include "cpm_log.h"
#include "cpm_util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_DEFAULT_MAP ((size_t)1 << 30)
/* Room for databases a later version adds without a config change. */
#define STORE_DB_SLACK 8

static const char *const common_dbs[] = {CPM_DB_META, CPM_DB_OUTBOX, CPM_DB_INBOX, CPM_DB_EVENTS,
                                         CPM_DB_DEAD};
#define N_COMMON (sizeof common_dbs / sizeof common_dbs[0])

int cpm_store_err(int mdb_rc)
{
    switch (mdb_rc) {
    case 0:
        return CPM_OK;
    case MDB_MAP_FULL:
    case MDB_TXN_FULL: /* too much in one transaction: retry, smaller */
        return CPM_E_STORE_FULL;
    case MDB_NOTFOUND:
        return CPM_E_NOT_FOUND;
    case EIO:
    case ENOSPC:
    case EROFS:
    case EDQUOT:
    case MDB_PANIC:
        return CPM_E_STORE_IO;
    default:
        return CPM_E_INTERNAL;
    }
}

/* Map rc and say why, except for the answers callers expect (absent keys). */
static int store_fail(const char *what, int rc)
{
    int code = cpm_store_err(rc);
    if (code == CPM_E_STORE_FULL)
        cpm_warn("store: %s: %s (map full; see map_size_mb and map_max_mb)", what,
                 mdb_strerror(rc));
    else if (code != CPM_OK && code != CPM_E_NOT_FOUND)
        cpm_error("store: %s: %s", what, mdb_strerror(rc));
    return code;
}

static int find_db(const cpm_store_t *s, const char *name, MDB_dbi *dbi)
{
    /* Every get and put names its database: the first byte tells most
     * names apart before a strcmp (a dozen names, a dozen lookups a request). */
    for (size_t i = 0; i < s->ndbs; i++) {
        if (s->dbs[i].name[0] == name[0] && strcmp(s->dbs[i].name, name) == 0) {
            *dbi = s->dbs[i].dbi;
            return 0;
        }
    }
    return -1;
}

/* Collect common + extra names into s->dbs, rejecting bad or repeated ones. */
static int collect_names(cpm_store_t *s, const char *const *extra, char *err, size_t errlen)
{
    for (size_t i = 0; i < N_COMMON; i++)
        snprintf(s->dbs[s->ndbs++].name, STORE_DB_NAME_MAX + 1, "%s", common_dbs[i]);
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
        size_t len = strlen(extra[i]);
        MDB_dbi unused;
        if (len == 0 || len > STORE_DB_NAME_MAX) {
            cpm_errf(err, errlen, "extra_dbs[%zu] must be 1 to %d bytes long, not %zu", i,
                     STORE_DB_NAME_MAX, len);
            return -1;
        }
        if (find_db(s, extra[i], &unused) == 0) {
            cpm_errf(err, errlen, "extra_dbs[%zu] \"%s\" names a database twice", i, extra[i]);
            return -1;
        }
        memcpy(s->dbs[s->ndbs++].name, extra[i], len + 1);
    }
    return 0;
}

/* Open every database and check or write the schema version, in one txn. */
static int open_dbs(cpm_store_t *s, const char *dir, char *err, size_t errlen)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0) {
        cpm_errf(err, errlen, "cannot start a transaction in %s: %s", dir, mdb_strerror(rc));
        return -1;
    }
    for (size_t i = 0; i < s->ndbs; i++) {
        rc = mdb_dbi_open(txn, s->dbs[i].name, MDB_CREATE, &s->dbs[i].dbi);
        if (rc != 0) {
            cpm_errf(err, errlen, "cannot open database \"%s\" in %s: %s", s->dbs[i].name, dir,
                     mdb_strerror(rc));
            goto fail;
        }
    }
    MDB_val k = {6, (void *)"schema"}, v;
    char want[24];
    int wlen = snprintf(want, sizeof want, "%d", CPM_STORE_SCHEMA);
    rc = mdb_get(txn, s->dbs[0].dbi, &k, &v);
    if (rc == MDB_NOTFOUND) {
        v.mv_size = (size_t)wlen;
        v.mv_data = want;
        rc = mdb_put(txn, s->dbs[0].dbi, &k, &v, 0);
    } else if (rc == 0 && (v.mv_size != (size_t)wlen || memcmp(v.mv_data, want, v.mv_size))) {
        cpm_errf(err, errlen,
                 "store in %s has schema version \"%.*s\" but this build reads version %s; "
                 "migrate it or use another data directory",
                 dir, (int)(v.mv_size > 20 ? 20 : v.mv_size), (const char *)v.mv_data, want);
        goto fail;
    }
    if (rc != 0) {
        cpm_errf(err, errlen, "cannot read or write the schema version in %s: %s", dir,
                 mdb_strerror(rc));
        goto fail;
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        cpm_errf(err, errlen, "cannot commit the new store in %s: %s", dir, mdb_strerror(rc));
        return -1;
    }
    return 0;
fail:
    mdb_txn_abort(txn);
    return -1;
}

/* A store is opened by one process (one opening) at a time: another could
 * put a checkpoint's meta pages back under a running journaled store, or
 * remove its journal. An exclusive lock on store.lock, held until destroy
 * (raw readers such as mdb_copy do not take it, and need not). */
static int lock_store(cpm_store_t *s, const char *dir, char *err, size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/store.lock", dir);
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (s->lock_fd < 0) {
        cpm_errf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        cpm_errf(err, errlen, "the store in %s is open in another process (%s is locked)", dir,
                 path);
        return -1;
    }
    return 0;
}

cpm_store_t *cpm_store_open(const char *dir, size_t map_size, const char *const *extra_dbs,
                            char *err, size_t errlen)
{
    cpm_store_opts_t o = {.map_size = map_size};
    return cpm_store_open_with(dir, &o, extra_dbs, err, errlen);
}

cpm_store_t *cpm_store_open_with(const char *dir, const cpm_store_opts_t *opts,
                                 const char *const *extra_dbs, char *err, size_t errlen)
{
    size_t map_size = opts->map_size;
    if (dir == NULL || dir[0] == 0) {
        cpm_errf(err, errlen, "dir (the data directory) is empty");
        return NULL;
    }
    size_t nextra = 0;
    while (extra_dbs != NULL && extra_dbs[nextra] != NULL)
        nextra++;
    cpm_store_t *s = calloc(1, sizeof *s + (N_COMMON + nextra) * sizeof(store_db_t));
    if (s == NULL) {
        cpm_errf(err, errlen, "out of memory opening the store in %s", dir);
        return NULL;
    }
    s->lock_fd = -1;
    s->dir = strdup(dir);
    s->map_max = map_size ? map_size : STORE_DEFAULT_MAP;
    if (opts->map_max > s->map_max) /* the journal's replay may grow the map to it */
        s->map_max = opts->map_max;
    s->high_water_pct = CPM_STORE_HIGH_WATER_DEFAULT;
    if (s->dir == NULL) {
        cpm_errf(err, errlen, "out of memory opening the store in %s", dir);
        goto fail;
    }
    if (collect_names(s, extra_dbs, err, errlen) != 0)
        goto fail;
    if (cpm_mkdirs(dir, 0700) != 0) {
        cpm_errf(err, errlen, "cannot create data directory %s: %s", dir, strerror(errno));
        goto fail;
    }
    int rc = mdb_env_create(&s->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(s->env, (MDB_dbi)(s->ndbs + STORE_DB_SLACK));
    if (rc == 0)
        rc = mdb_env_set_mapsize(s->env, map_size ? map_size : STORE_DEFAULT_MAP);
    /* NOTLS: one thread per store, and read txns may be reused; no NOSYNC:
     * a commit that returned 0 must survive a power cut. */
    if (rc == 0)
        rc = mdb_env_set_userctx(s->env, s);
    if (rc != 0) {
        cpm_errf(err, errlen, "cannot set up LMDB in %s: %s", dir, mdb_strerror(rc));
        goto fail;
    }
    if (lock_store(s, dir, err, errlen) != 0 || store_jn_restore(dir, err, errlen) < 0)
        goto fail;
    rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600);
    if (rc != 0) {
        cpm_errf(err, errlen, "cannot open LMDB environment in %s: %s", dir, mdb_strerror(rc));
        goto fail;
    }
    if (open_dbs(s, dir, err, errlen) != 0 || store_jn_replay(s, err, errlen) != 0)
        goto fail;
    if (opts->journal) {
        size_t seg =
            opts->journal_seg_bytes ? opts->journal_seg_bytes : CPM_STORE_JOURNAL_SEG_DEFAULT;
        unsigned ck = opts->checkpoint_ms ? opts->checkpoint_ms : CPM_STORE_CHECKPOINT_MS_DEFAULT;
        if (store_jn_start(s, seg, ck, err, errlen) != 0)
            goto fail;
    } else if (cpm_journal_remove_files(dir) != 0) {
        cpm_errf(err, errlen, "cannot remove the emptied journal of the store in %s", dir);
        goto fail;
    }
    return s;
fail:
    cpm_store_destroy(&s);
    return NULL;
}

void cpm_store_destroy(cpm_store_t **p)
{
    if (p == NULL || *p == NULL)
        return;
    store_jn_close(*p);
    store_cur_forget(*p);
    if ((*p)->env != NULL)
        mdb_env_close((*p)->env);
    if ((*p)->lock_fd >= 0)
        close((*p)->lock_fd); /* the lock goes with it */
    free((*p)->dir);
    free(*p);
    *p = NULL;
}

MDB_env *cpm_store_env(cpm_store_t *s)
{
    return s->env;
}

MDB_dbi cpm_store_dbi(cpm_store_t *s, const char *name)
{
    MDB_dbi dbi;
    if (find_db(s, name, &dbi) != 0) {
        cpm_error("store: no database named \"%s\" was opened (a bug)", name);
        abort();
    }
    return dbi;
}

int cpm_store_begin(cpm_store_t *s, bool write, MDB_txn **txn)
{
    *txn = NULL;
    if (write && s->full_seen) {
        s->full_seen = 0;
        store_jn_relieve(s);
    }
    int rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, txn);
    if (rc == 0 && write) {
        store_jn_begin(s, *txn);
        store_cur_begin(s, *txn);
    }
    return rc ? store_fail("begin", rc) : 0;
}

int cpm_store_begin_child(cpm_store_t *s, MDB_txn *parent, MDB_txn **child)
{
    *child = NULL;
    int rc = mdb_txn_begin(s->env, parent, 0, child);
    if (rc == 0) {
        store_ws_child(store_jn_ws(s), *child);
        store_cur_child(s, parent, *child);
    }
    return rc ? store_fail("begin nested", rc) : 0;
}

/* The store a transaction belongs to. */
static cpm_store_t *store_of(MDB_txn *txn)
{
    return mdb_env_get_userctx(mdb_txn_env(txn));
}

int cpm_store_commit(MDB_txn *txn)
{
    cpm_store_t *s = store_of(txn);
    if (s != NULL)
        store_cur_end(s, txn);
    if (s != NULL && store_jn_owns(s, txn))
        return store_jn_commit(s, txn);
    store_ws_t *ws = s ? store_jn_ws(s) : NULL;
    int rc = mdb_txn_commit(txn);
    /* a nested transaction: its writes stay in the journal's log when it
     * committed; LMDB dropped them when it could not */
    store_ws_child_end(ws, txn, rc == 0);
    return rc ? store_fail("commit", rc) : 0;
}

int cpm_store_commit_early(MDB_txn *txn, uint64_t *ticket)
{
    cpm_store_t *s = store_of(txn);
    *ticket = 0;
    if (s != NULL)
        store_cur_end(s, txn);
    if (s != NULL && store_jn_owns(s, txn))
        return store_jn_commit_early(s, txn, ticket);
    return cpm_store_commit(txn);
}

bool cpm_store_flushed(cpm_store_t *s, uint64_t ticket)
{
    return store_jn_flushed(s, ticket);
}

void cpm_store_wait_flushed(cpm_store_t *s)
{
    store_jn_wait_flushed(s);
}

int cpm_store_flush_fd(const cpm_store_t *s)
{
    return store_jn_flush_fd(s);
}

int cpm_store_commit_relaxed(MDB_txn *txn)
{
    cpm_store_t *s = store_of(txn);
    if (s != NULL)
        store_cur_end(s, txn);
    if (s != NULL && store_jn_owns(s, txn)) /* journaled: one flush, like the rest */
        return store_jn_commit(s, txn);
    if (s != NULL && store_jn_ws(s) != NULL) /* a nested transaction: nothing to relax */
        return cpm_store_commit(txn);
    MDB_env *env = mdb_txn_env(txn);
    int rc = mdb_env_set_flags(env, MDB_NOMETASYNC, 1);
    if (rc != 0) { /* cannot relax: commit durably, which is always allowed */
        rc = mdb_txn_commit(txn);
        return rc ? store_fail("commit", rc) : 0;
    }
    rc = mdb_txn_commit(txn);
    /* Back to durable before anything else commits; this cannot fail for a
     * flag LMDB lets change at run time, but if it did every later commit
     * would be relaxed: stop rather than lose acknowledged data. */
    if (mdb_env_set_flags(env, MDB_NOMETASYNC, 0) != 0) {
        cpm_error("store: cannot restore durable commits (MDB_NOMETASYNC); stopping");
        abort();
    }
    return rc ? store_fail("commit", rc) : 0;
}

void cpm_store_abort(MDB_txn **txn)
{
    if (txn == NULL || *txn == NULL)
        return;
    cpm_store_t *s = store_of(*txn);
    if (s != NULL) {
        store_cur_end(s, *txn);
        store_ws_child_end(store_jn_ws(s), *txn, false);
        store_jn_abort(s, *txn);
    }
    mdb_txn_abort(*txn);
    *txn = NULL;
}

/* Resolve db and check the key; CPM_E_INVALID names what is wrong. */
static int prepare(cpm_store_t *s, const char *op, const char *db, const void *key, size_t klen,
                   MDB_dbi *dbi)
{
    if (find_db(s, db, dbi) != 0) {
        cpm_error("store: %s: db \"%s\" is not a database of this store", op, db);
        return CPM_E_INVALID;
    }
    if (key == NULL) {
        cpm_error("store: %s: key is NULL in \"%s\"", op, db);
        return CPM_E_INVALID;
    }
    if (klen == 0 || klen > (size_t)mdb_env_get_maxkeysize(s->env)) {
        cpm_error("store: %s: key length %zu in \"%s\" is outside 1..%d", op, klen, db,
                  mdb_env_get_maxkeysize(s->env));
        return CPM_E_INVALID;
    }
    return 0;
}

int cpm_store_put(cpm_store_t *s, MDB_txn *txn, const char *db, const void *key, size_t klen,
                  const void *val, size_t vlen)
{
    MDB_dbi dbi;
    int rc = prepare(s, "put", db, key, klen, &dbi);
    if (rc != 0)
        return rc;
    if (val == NULL && vlen != 0) {
        cpm_error("store: put: val is NULL with vlen %zu in \"%s\"", vlen, db);
        return CPM_E_INVALID;
    }
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    rc = cpm_store_mdb_put(s, txn, dbi, &k, &v, 0);
    return rc ? store_fail("put", rc) : 0;
}

int cpm_store_put_msg(cpm_store_t *s, MDB_txn *txn, const char *db, const char *key,
                      const ProtobufCMessage *msg)
{
    MDB_dbi dbi;
    size_t klen = strlen(key);
    int rc = prepare(s, "put", db, key, klen, &dbi);
    if (rc != 0)
        return rc;
    MDB_val k = {klen, (void *)key};
    rc = cpm_store_mdb_put_msg(s, txn, dbi, &k, msg, 0);
    return rc ? store_fail("put", rc) : 0;
}

int cpm_store_get_msg(cpm_store_t *s, MDB_txn *txn, const char *db, const char *key,
                      const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out)
{
    *out = NULL;
    const void *v;
    size_t vlen;
    int rc = cpm_store_get(s, txn, db, key, strlen(key), &v, &vlen);
    if (rc != 0)
        return rc;
    *out = protobuf_c_message_unpack(desc, cpm_pb_budget(vlen), vlen, v);
    return *out ? 0 : CPM_E_BAD_MESSAGE;
}

int cpm_store_each_msg(cpm_store_t *s, MDB_txn *txn, const char *db, const void *prefix,
                       size_t plen, const ProtobufCMessageDescriptor *desc, cpm_store_each_fn fn,
                       void *ctx)
{
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, cpm_store_dbi(s, db), &cur);
    if (mrc != 0)
        return store_fail("cursor", mrc);
    MDB_val k = {plen, (void *)prefix}, v;
    int rc = 0;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         mrc == 0 && rc == 0 && k.mv_size >= plen && !memcmp(k.mv_data, prefix, plen);
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        ProtobufCMessage *m =
            protobuf_c_message_unpack(desc, cpm_pb_budget(v.mv_size), v.mv_size, v.mv_data);
        rc = m ? fn(ctx, (const char *)k.mv_data + plen, k.mv_size - plen, m) : CPM_E_BAD_MESSAGE;
        if (m)
            protobuf_c_message_free_unpacked(m, NULL);
    }
    mdb_cursor_close(cur);
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = store_fail("cursor", mrc);
    return rc;
}

int cpm_store_get(cpm_store_t *s, MDB_txn *txn, const char *db, const void *key, size_t klen,
                  const void **val, size_t *vlen)
{
    MDB_dbi dbi;
    int rc = prepare(s, "get", db, key, klen, &dbi);
    if (rc != 0)
        return rc;
    MDB_val k = {klen, (void *)key}, v;
    rc = store_cur_get(s, txn, dbi, &k, &v);
    if (rc != 0)
        return store_fail("get", rc);
    *val = v.mv_data;
    *vlen = v.mv_size;
    return 0;
}

int cpm_store_del(cpm_store_t *s, MDB_txn *txn, const char *db, const void *key, size_t klen)
{
    MDB_dbi dbi;
    int rc = prepare(s, "del", db, key, klen, &dbi);
    if (rc != 0)
        return rc;
    MDB_val k = {klen, (void *)key};
    rc = cpm_store_mdb_del(s, txn, dbi, &k);
    return rc ? store_fail("del", rc) : 0;
}

int cpm_store_get_u64(cpm_store_t *s, MDB_txn *txn, const char *key, uint64_t *v)
{
    const void *val = NULL;
    size_t len = 0;
    int rc = cpm_store_get(s, txn, CPM_DB_META, key, strlen(key), &val, &len);
    if (rc == CPM_E_NOT_FOUND) {
        *v = 0;
        return 0;
    }
    if (rc != 0)
        return rc;
    if (len != 8) {
        cpm_error("store: meta \"%s\" holds %zu bytes, not a u64 (corrupt store?)", key, len);
        return CPM_E_INTERNAL;
    }
    *v = cpm_get_be64(val);
    return 0;
}

int cpm_store_put_u64(cpm_store_t *s, MDB_txn *txn, const char *key, uint64_t v)
{
    uint8_t buf[8];
    cpm_put_be64(buf, v);
    return cpm_store_put(s, txn, CPM_DB_META, key, strlen(key), buf, sizeof buf);
}

int cpm_store_mdb_put(cpm_store_t *s, MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *v,
                      unsigned flags)
{
    store_ws_t *ws = store_jn_ws(s);
    size_t mark = store_ws_mark(ws);
    /* Logged first: k or v may point into the map, which the write changes.
     * A value reserved is filled after the put: its key is read back at the
     * commit instead. */
    if (flags & MDB_RESERVE)
        store_ws_touch(ws, s, dbi, k);
    else
        store_ws_put(ws, s, dbi, k, v);
    int rc = store_cur_put(s, txn, dbi, k, v, flags);
    if (rc != 0)
        store_ws_cut(ws, mark);
    s->full_seen |= rc == MDB_MAP_FULL;
    return rc;
}

int cpm_store_mdb_put_msg(cpm_store_t *s, MDB_txn *txn, MDB_dbi dbi, MDB_val *k,
                          const ProtobufCMessage *msg, unsigned flags)
{
    store_ws_t *ws = store_jn_ws(s);
    MDB_val v = {protobuf_c_message_get_packed_size(msg), NULL};
    int rc;
    flags &= ~(unsigned)MDB_RESERVE; /* the value is the message, always */
    if (ws == NULL) {                /* serialized straight into the map */
        rc = store_cur_put(s, txn, dbi, k, &v, flags | MDB_RESERVE);
        if (rc == 0)
            protobuf_c_message_pack(msg, v.mv_data);
    } else { /* serialized into the journal's log, and put from there */
        size_t mark = store_ws_mark(ws);
        v.mv_data = store_ws_put_room(ws, s, dbi, k, v.mv_size);
        protobuf_c_message_pack(msg, v.mv_data);
        rc = store_cur_put(s, txn, dbi, k, &v, flags);
        if (rc != 0)
            store_ws_cut(ws, mark);
    }
    s->full_seen |= rc == MDB_MAP_FULL;
    return rc;
}

int cpm_store_mdb_del(cpm_store_t *s, MDB_txn *txn, MDB_dbi dbi, MDB_val *k)
{
    store_ws_t *ws = store_jn_ws(s);
    size_t mark = store_ws_mark(ws);
    store_ws_del(ws, s, dbi, k); /* first, as above */
    int rc = store_cur_del(s, txn, dbi, k);
    if (rc != 0)
        store_ws_cut(ws, mark);
    s->full_seen |= rc == MDB_MAP_FULL;
    return rc;
}

int cpm_store_cursor_put(cpm_store_t *s, MDB_cursor *cur, MDB_val *k, MDB_val *v, unsigned flags)
{
    MDB_val at = *k, unused;
    int rc;
    /* MDB_CURRENT ignores k: the key is the cursor's. Logged first, as above. */
    if ((flags & MDB_CURRENT) && (rc = mdb_cursor_get(cur, &at, &unused, MDB_GET_CURRENT)) != 0)
        return rc;
    store_ws_t *ws = store_jn_ws(s);
    size_t mark = store_ws_mark(ws);
    if (flags & MDB_RESERVE)
        store_ws_touch(ws, s, mdb_cursor_dbi(cur), &at);
    else
        store_ws_put(ws, s, mdb_cursor_dbi(cur), &at, v);
    rc = mdb_cursor_put(cur, k, v, flags);
    if (rc != 0)
        store_ws_cut(ws, mark);
    s->full_seen |= rc == MDB_MAP_FULL;
    return rc;
}

int cpm_store_cursor_del(cpm_store_t *s, MDB_cursor *cur)
{
    MDB_val at, unused;
    int rc = mdb_cursor_get(cur, &at, &unused, MDB_GET_CURRENT);
    if (rc != 0)
        return rc;
    store_ws_t *ws = store_jn_ws(s);
    size_t mark = store_ws_mark(ws);
    /* at points into the map: logged before the page changes */
    store_ws_del(ws, s, mdb_cursor_dbi(cur), &at);
    rc = mdb_cursor_del(cur, 0);
    if (rc != 0)
        store_ws_cut(ws, mark);
    return rc;
}

int cpm_store_mdb_drop(cpm_store_t *s, MDB_txn *txn, MDB_dbi dbi)
{
    int rc = mdb_drop(txn, dbi, 0);
    if (rc == 0)
        store_ws_dropped(store_jn_ws(s), s, dbi);
    return rc;
}
