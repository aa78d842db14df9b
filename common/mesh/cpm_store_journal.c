/* cpm_store_journal: a store's redo journal (docs/operations.md "A store's
 * redo journal"). With it a commit flushes once: LMDB commits without
 * flushing (MDB_NOSYNC), the transaction's writes, logged as they were made
 * (cpm_store_wset), are appended to the journal (cpm_journal) and flushed.
 * A checkpoint thread makes the data file durable every ckpt_ms
 * (mdb_env_sync) and then keeps a copy of the two meta pages of the state it
 * made durable (journal.meta); a read transaction held on that state keeps
 * LMDB from writing over any of its pages, so that state stays whole in the
 * file whatever later commits wrote before a power cut. Opening a store that
 * was not closed cleanly puts those meta pages back, which brings the store
 * to the checkpoint's state whether the process was killed or the machine
 * lost power, and applies the journal's records after it: one way for both.
 * One writer thread per store, as everywhere. */
#include "cpm_flusher.h"
#include "cpm_journal.h"
#include "cpm_log.h"
#include "cpm_store_int.h"
#include "cpm_util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMG_MAGIC "CPJM"
#define IMG_HDR 32 /* magic, page size, seq, journal id */
#define IMG_HASH 16
#define KEY_SEQ "journal.seq"
#define KEY_ID "journal.id"
/* A record larger than this share of a segment commits by a checkpoint. */
#define LARGE_DIV 2

struct store_jn {
    cpm_journal_t *j;
    uint8_t id[CPM_JOURNAL_ID_LEN];
    uint64_t seq;   /* of the last record (or checkpoint) committed */
    MDB_txn *txn;   /* the open top-level write transaction */
    store_ws_t *ws; /* what it wrote */
    int step;       /* journal this transaction even if it wrote nothing (store_jn_step) */
    unsigned ckpt_ms;
    int64_t last_ckpt_ms;
    /* the checkpoint thread, under mu */
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started, stop, busy;
    uint64_t ckpt_failures; /* checkpoints that failed (retried), under mu */
    uint64_t ckpt_made;     /* under mu */
    uint64_t records, by_ckpt;
    uint64_t for_room; /* checkpoints made because held pages filled the map */
    int64_t room_logged_ms;
    MDB_txn *pin;     /* the durable checkpoint's state */
    MDB_txn *pin_new; /* the one being made durable */
    uint8_t *img;     /* its meta pages */
    size_t psize;
    uint64_t img_seq;
    int img_fd;   /* journal.meta */
    int img_slot; /* the slot the next image goes to */
    /* A record appended without its flush (store_jn_commit_early): flushed
     * on this thread; at most one at a time, the last one. */
    cpm_flusher_t *fl;
    uint64_t early; /* records committed that way */
};

/* ---- images: the two meta pages of a durable state ----------------------- */
/* journal.meta holds two slots, each an image (IMG_MAGIC, page size, seq,
 * journal id, the two pages, BLAKE2b-128 of all that) padded to whole 4 KiB
 * blocks; checkpoints write them in turn, in place (the file is written
 * through when made: a checkpoint needs no new block, even on a full disk),
 * so a checkpoint torn by a crash leaves the other, older one whole. */

static void img_path(const char *dir, char *out, size_t n)
{
    snprintf(out, n, "%s/journal.meta", dir);
}

static size_t img_len(size_t psize)
{
    return IMG_HDR + 2 * psize + IMG_HASH;
}

static size_t slot_len(size_t psize)
{
    return (img_len(psize) + 4095) / 4096 * 4096;
}

static int data_fd(const char *dir, int flags)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    return open(path, flags | O_CLOEXEC | O_NOFOLLOW);
}

/* The meta pages as they are now (after the last commit, before the next). */
static int img_take(cpm_store_t *s)
{
    store_jn_t *jn = s->jn;
    int fd = -1;
    if (mdb_env_get_fd(s->env, &fd) != 0)
        return -1;
    size_t n = img_len(jn->psize);
    uint8_t *b = jn->img;
    memset(b, 0, slot_len(jn->psize));
    memcpy(b, IMG_MAGIC, 4);
    b[4] = (uint8_t)(jn->psize >> 24);
    b[5] = (uint8_t)(jn->psize >> 16);
    b[6] = (uint8_t)(jn->psize >> 8);
    b[7] = (uint8_t)jn->psize;
    cpm_put_be64(b + 8, jn->seq);
    memcpy(b + 16, jn->id, CPM_JOURNAL_ID_LEN);
    if (pread(fd, b + IMG_HDR, 2 * jn->psize, 0) != (ssize_t)(2 * jn->psize))
        return -1;
    crypto_generichash(b + n - IMG_HASH, IMG_HASH, b, n - IMG_HASH, NULL, 0);
    return 0;
}

/* Into the slot the last image is not in, flushed. */
static int img_write(cpm_store_t *s)
{
    store_jn_t *jn = s->jn;
    size_t len = slot_len(jn->psize);
    off_t off = (off_t)(jn->img_slot * len);
    ssize_t w = pwrite(jn->img_fd, jn->img, len, off);
    if (w != (ssize_t)len || fdatasync(jn->img_fd) != 0) {
        cpm_error("store: journal: cannot write the checkpoint image of %s: %s", s->dir,
                  w < 0 ? strerror(errno) : "short write");
        return -1;
    }
    jn->img_slot = 1 - jn->img_slot;
    return 0;
}

/* Remove journal.meta, durably. 0 (also when it was not there) or -1. */
static int img_remove(const char *dir)
{
    char path[4200];
    img_path(dir, path, sizeof path);
    if (unlink(path) != 0 && errno != ENOENT)
        return -1;
    return cpm_sync_dir(dir);
}

/* Make journal.meta (two empty slots, written through) and open it. */
static int img_create(cpm_store_t *s)
{
    store_jn_t *jn = s->jn;
    char path[4200];
    img_path(s->dir, path, sizeof path);
    uint8_t *zero = calloc(2, slot_len(jn->psize));
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    int ok = zero && fd >= 0 &&
             pwrite(fd, zero, 2 * slot_len(jn->psize), 0) == (ssize_t)(2 * slot_len(jn->psize)) &&
             fsync(fd) == 0 && cpm_sync_dir(s->dir) == 0;
    free(zero);
    if (!ok) {
        cpm_error("store: journal: cannot make %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    jn->img_fd = fd;
    jn->img_slot = 0;
    return 0;
}

/* The valid image of b (a slot) with its page size, or NULL. */
static const uint8_t *img_check(const uint8_t *b, size_t avail, size_t *psize)
{
    if (avail < IMG_HDR + IMG_HASH || memcmp(b, IMG_MAGIC, 4) != 0)
        return NULL;
    size_t ps = (size_t)b[4] << 24 | (size_t)b[5] << 16 | (size_t)b[6] << 8 | (size_t)b[7];
    if (ps < 512 || ps > 65536 || avail < img_len(ps))
        return NULL;
    uint8_t h[IMG_HASH];
    crypto_generichash(h, IMG_HASH, b, img_len(ps) - IMG_HASH, NULL, 0);
    if (sodium_memcmp(h, b + img_len(ps) - IMG_HASH, IMG_HASH) != 0)
        return NULL;
    *psize = ps;
    return b;
}

int store_jn_restore(const char *dir, char *err, size_t errlen)
{
    char path[4200];
    img_path(dir, path, sizeof path);
    uint8_t *b = NULL;
    size_t n = 0;
    if (access(path, F_OK) != 0)
        return 0;
    if (cpm_read_file(path, 1 << 20, &b, &n) != 0) {
        cpm_errf(err, errlen, "cannot read the checkpoint image %s: %s", path, strerror(errno));
        return -1;
    }
    /* The newest whole slot: slots are whole 4 KiB blocks, the first at 0. */
    const uint8_t *best = NULL;
    size_t psize = 0;
    for (size_t off = 0; off < n; off += 4096) {
        size_t ps;
        const uint8_t *img = img_check(b + off, n - off, &ps);
        if (img && off % slot_len(ps) == 0 && off / slot_len(ps) < 2 &&
            (!best || cpm_get_be64(img + 8) > cpm_get_be64(best + 8))) {
            best = img;
            psize = ps;
        }
    }
    if (best == NULL) { /* none made yet: the store was durable when the journal began */
        free(b);
        return 0;
    }
    int fd = data_fd(dir, O_RDWR);
    int rc = fd >= 0 && pwrite(fd, best + IMG_HDR, 2 * psize, 0) == (ssize_t)(2 * psize) &&
                     fdatasync(fd) == 0
                 ? 1
                 : -1;
    if (rc < 0)
        cpm_errf(err, errlen, "cannot put the checkpoint's meta pages back into %s/data.mdb: %s",
                 dir, strerror(errno));
    else
        cpm_info("store: %s was not closed cleanly: back to its checkpoint of record %llu", dir,
                 (unsigned long long)cpm_get_be64(best + 8));
    if (fd >= 0)
        close(fd);
    free(b);
    return rc;
}

/* ---- replay ---------------------------------------------------------------- */

static MDB_dbi s_meta_dbi(const cpm_store_t *s)
{
    return s->dbs[0].dbi; /* "meta", the first of the common databases */
}

static int meta_get(cpm_store_t *s, MDB_txn *txn, const char *key, MDB_val *v)
{
    MDB_val k = {strlen(key), (void *)key};
    return mdb_get(txn, s_meta_dbi(s), &k, v);
}

typedef struct {
    cpm_store_t *s;
    uint64_t n;
} replay_t;

static int db_by_name(cpm_store_t *s, const uint8_t *name, size_t len, MDB_dbi *dbi)
{
    for (size_t i = 0; i < s->ndbs; i++)
        if (strlen(s->dbs[i].name) == len && memcmp(s->dbs[i].name, name, len) == 0) {
            *dbi = s->dbs[i].dbi;
            return 0;
        }
    return -1;
}

/* One record's entries, in txn: 0, EINVAL when malformed, or LMDB's code. */
static int apply_entries(cpm_store_t *s, MDB_txn *txn, const uint8_t *p, size_t len)
{
    size_t off = 0;
    while (off < len) {
        if (len - off < 2)
            return EINVAL;
        uint8_t op = p[off], nl = p[off + 1];
        off += 2;
        MDB_dbi dbi;
        if (len - off < nl || db_by_name(s, p + off, nl, &dbi) != 0)
            return EINVAL;
        off += nl;
        if (op == 'X') {
            int rc = mdb_drop(txn, dbi, 0);
            if (rc != 0)
                return rc;
            continue;
        }
        if (len - off < 4)
            return EINVAL;
        MDB_val k = {store_rec_get32(p + off), NULL}, v = {0, NULL};
        off += 4;
        if (k.mv_size == 0 || len - off < k.mv_size)
            return EINVAL;
        k.mv_data = (void *)(p + off);
        off += k.mv_size;
        int rc;
        if (op == 'D') {
            rc = mdb_del(txn, dbi, &k, NULL);
            rc = rc == MDB_NOTFOUND ? 0 : rc;
        } else if (op == 'P' && len - off >= 4) {
            v.mv_size = store_rec_get32(p + off);
            off += 4;
            if (len - off < v.mv_size)
                return EINVAL;
            v.mv_data = (void *)(p + off);
            off += v.mv_size;
            rc = mdb_put(txn, dbi, &k, &v, 0);
        } else {
            return EINVAL;
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* One record in a transaction of its own, with its number: 0 or LMDB's
 * code (EINVAL: malformed). */
static int replay_txn(cpm_store_t *s, uint64_t seq, const uint8_t *payload, size_t len)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0)
        return rc;
    uint8_t b[8];
    cpm_put_be64(b, seq);
    MDB_val k = {strlen(KEY_SEQ), (void *)KEY_SEQ}, v = {8, b};
    if ((rc = apply_entries(s, txn, payload, len)) != 0 ||
        (rc = mdb_put(txn, s_meta_dbi(s), &k, &v, 0)) != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

/* The map doubled, up to map_max: the store may have grown after its
 * checkpoint, and replay starts from the checkpoint's map size. */
static int replay_grow(cpm_store_t *s)
{
    MDB_envinfo info;
    MDB_stat st;
    if (mdb_env_info(s->env, &info) != 0 || mdb_env_stat(s->env, &st) != 0 ||
        info.me_mapsize >= s->map_max)
        return -1;
    size_t want = info.me_mapsize > s->map_max / 2 ? s->map_max : info.me_mapsize * 2;
    want -= want % st.ms_psize;
    /* no write transaction is open; the hold on the checkpoint's state is a
     * read transaction never read from (see store_jn_quiesce) */
    if (want <= info.me_mapsize || mdb_env_set_mapsize(s->env, want) != 0)
        return -1;
    cpm_info("store: %s: map grown to %zu KiB to apply the journal", s->dir, want >> 10);
    return 0;
}

static int replay_one(void *ctx, uint64_t seq, const uint8_t *payload, size_t len)
{
    replay_t *r = ctx;
    int rc;
    while ((rc = replay_txn(r->s, seq, payload, len)) == MDB_MAP_FULL && replay_grow(r->s) == 0)
        ;
    if (rc != 0) {
        cpm_error("store: journal record %llu does not apply: %s", (unsigned long long)seq,
                  rc == EINVAL         ? "malformed"
                  : rc == MDB_MAP_FULL ? "the map is full at map_max_mb: raise it"
                                       : mdb_strerror(rc));
        return rc == EINVAL ? CPM_E_INTERNAL : cpm_store_err(rc);
    }
    r->n++;
    return 0;
}

/* The store's journal id and last record, from "meta" (0 and zeros when it
 * never kept a journal). */
static int read_mark(cpm_store_t *s, uint8_t id[CPM_JOURNAL_ID_LEN], uint64_t *seq, int *has_id)
{
    MDB_txn *txn = NULL;
    MDB_val v;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
        return -1;
    *has_id = meta_get(s, txn, KEY_ID, &v) == 0 && v.mv_size == CPM_JOURNAL_ID_LEN;
    if (*has_id)
        memcpy(id, v.mv_data, CPM_JOURNAL_ID_LEN);
    *seq = meta_get(s, txn, KEY_SEQ, &v) == 0 && v.mv_size == 8 ? cpm_get_be64(v.mv_data) : 0;
    mdb_txn_abort(txn);
    return 0;
}

int store_jn_replay(cpm_store_t *s, char *err, size_t errlen)
{
    uint8_t id[CPM_JOURNAL_ID_LEN];
    uint64_t seq = 0, last = 0;
    int has_id = 0;
    size_t beyond = 0;
    if (read_mark(s, id, &seq, &has_id) != 0) {
        cpm_errf(err, errlen, "cannot read the journal mark of the store in %s", s->dir);
        return -1;
    }
    if (!has_id)
        return cpm_journal_reset_files(s->dir) == 0 ? 0 : -1;
    /* The state the store was brought back to stays whole while records
     * apply: a read transaction keeps LMDB from reusing its pages (a crash
     * now brings it back there again). */
    MDB_txn *pin = NULL;
    replay_t r = {s, 0};
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &pin);
    if (rc == 0)
        rc = mdb_env_set_flags(s->env, MDB_NOSYNC, 1);
    if (rc == 0)
        rc = cpm_journal_replay(s->dir, id, seq, replay_one, &r, &last, &beyond, err, errlen);
    if (rc == 0 && beyond > 0) {
        cpm_errf(err, errlen,
                 "the journal of %s holds %zu records after a missing one (record %llu): a "
                 "write acknowledged after it would be lost; not opened (restore from a backup)",
                 s->dir, beyond, (unsigned long long)(last + 1));
        rc = -1;
    }
    if (rc == 0 && (rc = mdb_env_sync(s->env, 1)) != 0)
        cpm_errf(err, errlen, "cannot make the store in %s durable: %s", s->dir, mdb_strerror(rc));
    mdb_env_set_flags(s->env, MDB_NOSYNC, 0);
    if (pin)
        mdb_txn_abort(pin);
    if (rc != 0) {
        if (err && !err[0])
            cpm_errf(err, errlen, "cannot apply the journal of the store in %s", s->dir);
        return -1;
    }
    /* The image goes first (and the folder is synced): with it gone, an
     * empty journal brings nothing back; the other way round, a crash in
     * between would bring the store back to the image without the records. */
    if (img_remove(s->dir) != 0 || cpm_journal_reset_files(s->dir) != 0) {
        cpm_errf(err, errlen, "cannot empty the journal of the store in %s", s->dir);
        return -1;
    }
    if (r.n > 0)
        cpm_info("store: %s: %llu journal records applied (to record %llu)", s->dir,
                 (unsigned long long)r.n, (unsigned long long)last);
    return 0;
}

/* The data file could not be flushed. Linux may then drop the pages it could
 * not write and report the next flush as a success: trying again would make
 * a checkpoint of pages that are not on the disk, and free the journal
 * records that still hold them. The process stops instead; its restart
 * brings the store back to the last good checkpoint and applies the journal
 * (docs/operations.md "A store's redo journal"). */
static void sync_failed(cpm_store_t *s, int rc)
{
    cpm_error("store: %s: cannot flush the data file (%s): stopping; the restart applies the "
              "journal from the last checkpoint",
              s->dir, mdb_strerror(rc));
    abort();
}

/* ---- the checkpoint thread ----------------------------------------------- */

/* The data file's dirty pages are written a piece of the file at a time
 * before the checkpoint's flush: pieces of 1 MiB, or of 1/65536 of the file
 * when that is larger (from 64 GiB on). A piece of a large store holds dirty
 * pages scattered over it, each a write of its own: with 1/256 of a 3 GB
 * file (12 MB) a journal flush waited behind hundreds of them, and intake's
 * p99 of a group in a store of 2M complaints was 1.54 times an empty
 * store's; with 1 MiB, 1.04 (bench_growth, 2 runs each). A call over a clean
 * piece costs about 0.12 us here: 0.7 ms per checkpoint for a 6 GB file. */
#define PIECE_MIN ((off_t)1 << 20)
#define PIECES_MAX 65536

/* Before mdb_env_sync: start and wait for the writeback of the data file a
 * piece at a time, so that a journal flush of the writer thread waits behind
 * one piece's pages at most, not behind all that the interval dirtied (at one
 * client, one flush of 200 ms of commits took 8-11 ms and held two journal
 * flushes at 1.5-4.7 ms each: the p99). Durability still comes from the
 * flush after it, which also reports a write that failed here. */
static void write_back_in_pieces(cpm_store_t *s)
{
    int fd;
    struct stat st;
    if (mdb_env_get_fd(s->env, &fd) != 0 || fstat(fd, &st) != 0)
        return;
    off_t piece = st.st_size / PIECES_MAX > PIECE_MIN ? st.st_size / PIECES_MAX : PIECE_MIN;
    piece -= piece % 4096;
    for (off_t at = 0; at < st.st_size; at += piece)
        (void)sync_file_range(fd, at, piece,
                              SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                  SYNC_FILE_RANGE_WAIT_AFTER);
}

static void *ckpt_main(void *arg)
{
    cpm_store_t *s = arg;
    store_jn_t *jn = s->jn;
    pthread_mutex_lock(&jn->mu);
    for (;;) {
        while (!jn->busy && !jn->stop)
            pthread_cond_wait(&jn->cv, &jn->mu);
        if (!jn->busy)
            break;
        pthread_mutex_unlock(&jn->mu);
        write_back_in_pieces(s);
        int rc = mdb_env_sync(s->env, 1);
        if (rc != 0)
            sync_failed(s, rc);
        rc = img_write(s);
        pthread_mutex_lock(&jn->mu);
        if (rc == 0) {
            if (jn->pin)
                mdb_txn_abort(jn->pin);
            jn->pin = jn->pin_new;
            cpm_journal_release(jn->j);
            jn->ckpt_made++;
            jn->img_seq = cpm_get_be64(jn->img + 8); /* the state made durable */
        } else { /* the last durable checkpoint and its records stand: tried again later */
            mdb_txn_abort(jn->pin_new);
            jn->ckpt_failures++;
        }
        jn->pin_new = NULL;
        jn->busy = 0;
        pthread_cond_broadcast(&jn->cv);
    }
    pthread_mutex_unlock(&jn->mu);
    return NULL;
}

static void ckpt_wait(store_jn_t *jn)
{
    pthread_mutex_lock(&jn->mu);
    while (jn->busy)
        pthread_cond_wait(&jn->cv, &jn->mu);
    pthread_mutex_unlock(&jn->mu);
}

static void settle(cpm_store_t *s);

/* Begin a checkpoint of the state after the last commit: held by a read
 * transaction, its meta pages copied, the journal switched to the other
 * segment (when the last checkpoint failed the other is still sealed: not
 * switched then, and this one, if it succeeds, frees it); the thread
 * flushes. Only when none runs. 1 begun, 0 not now, -1 error. */
static int ckpt_begin(cpm_store_t *s)
{
    store_jn_t *jn = s->jn;
    pthread_mutex_lock(&jn->mu);
    int can = !jn->busy;
    pthread_mutex_unlock(&jn->mu);
    if (!can)
        return 0;
    /* The switch below flushes the segment too: a record flushed beside
     * the caller is waited for first, so that one flush, the flusher's,
     * sees (and reports) a write error of its pages. */
    settle(s);
    MDB_txn *pin = NULL;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &pin) != 0 || img_take(s) != 0) {
        if (pin)
            mdb_txn_abort(pin);
        cpm_error("store: checkpoint: cannot hold or read the state of %s", s->dir);
        return -1;
    }
    pthread_mutex_lock(&jn->mu);
    if (cpm_journal_can_switch(jn->j) && cpm_journal_switch(jn->j) != 0) {
        pthread_mutex_unlock(&jn->mu); /* the flush before the switch failed */
        mdb_txn_abort(pin);
        return -1;
    }
    jn->pin_new = pin;
    jn->busy = 1;
    jn->last_ckpt_ms = cpm_mono_ms();
    pthread_cond_broadcast(&jn->cv);
    pthread_mutex_unlock(&jn->mu);
    return 1;
}

/* A checkpoint here and now, on the writer thread: the store durable as it
 * is, every record before it no longer needed. 0 or -1. */
static int ckpt_now(cpm_store_t *s)
{
    store_jn_t *jn = s->jn;
    settle(s); /* as in ckpt_begin (a failure of it comes back here once, taken) */
    ckpt_wait(jn);
    MDB_txn *pin = NULL;
    int rc = mdb_env_sync(s->env, 1);
    if (rc != 0)
        sync_failed(s, rc);
    rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &pin);
    if (rc == 0)
        rc = img_take(s) == 0 && img_write(s) == 0 ? 0 : -1;
    if (rc != 0) {
        if (pin)
            mdb_txn_abort(pin);
        cpm_error("store: checkpoint of %s failed", s->dir);
        pthread_mutex_lock(&jn->mu);
        jn->ckpt_failures++;
        pthread_mutex_unlock(&jn->mu);
        return -1;
    }
    pthread_mutex_lock(&jn->mu);
    if (jn->pin)
        mdb_txn_abort(jn->pin);
    jn->pin = pin;
    cpm_journal_release(jn->j);
    if (cpm_journal_switch(jn->j) == 0) /* both free: start afresh in the other */
        cpm_journal_release(jn->j);
    jn->ckpt_made++;
    jn->img_seq = jn->seq;
    jn->last_ckpt_ms = cpm_mono_ms();
    pthread_mutex_unlock(&jn->mu);
    return 0;
}

/* ---- keeping a journal ------------------------------------------------------ */

int store_jn_start(cpm_store_t *s, size_t seg_bytes, unsigned ckpt_ms, char *err, size_t errlen)
{
    store_jn_t *jn = calloc(1, sizeof *jn);
    MDB_stat st;
    int has_id = 0;
    if (jn == NULL || mdb_env_stat(s->env, &st) != 0) {
        free(jn);
        cpm_errf(err, errlen, "cannot start the journal of the store in %s", s->dir);
        return -1;
    }
    s->jn = jn;
    jn->ckpt_ms = ckpt_ms;
    jn->psize = st.ms_psize;
    jn->img_fd = -1;
    jn->img = malloc(slot_len(jn->psize));
    jn->ws = store_ws_new();
    pthread_mutex_init(&jn->mu, NULL);
    pthread_cond_init(&jn->cv, NULL);
    if (jn->img == NULL || jn->ws == NULL || read_mark(s, jn->id, &jn->seq, &has_id) != 0)
        goto fail;
    if (!has_id) { /* first time: an id of its own, durably in the store */
        MDB_txn *txn = NULL;
        randombytes_buf(jn->id, sizeof jn->id);
        MDB_val k = {strlen(KEY_ID), (void *)KEY_ID}, v = {sizeof jn->id, jn->id};
        if (mdb_txn_begin(s->env, NULL, 0, &txn) != 0)
            goto fail;
        if (mdb_put(txn, s_meta_dbi(s), &k, &v, 0) != 0) {
            mdb_txn_abort(txn);
            goto fail;
        }
        if (mdb_txn_commit(txn) != 0)
            goto fail;
    }
    if ((jn->j = cpm_journal_open(s->dir, seg_bytes, jn->id, err, errlen)) == NULL ||
        img_create(s) != 0)
        goto fail;
    if ((jn->fl = cpm_flusher_new()) == NULL)
        goto fail;
    if (pthread_create(&jn->th, NULL, ckpt_main, s) != 0)
        goto fail;
    jn->started = 1;
    if (mdb_env_set_flags(s->env, MDB_NOSYNC, 1) != 0 || ckpt_now(s) != 0)
        goto fail;
    return 0;
fail:
    if (err && !err[0])
        cpm_errf(err, errlen, "cannot start the journal of the store in %s", s->dir);
    store_jn_close(s);
    return -1;
}

void store_jn_close(cpm_store_t *s)
{
    store_jn_t *jn = s->jn;
    if (jn == NULL)
        return;
    int clean = 0;
    if (jn->fl != NULL && cpm_flusher_wait(jn->fl) != 0) /* mdb_env_sync below covers it */
        cpm_warn("store: %s: the journal's last flush failed", s->dir);
    cpm_flusher_destroy(&jn->fl);
    if (jn->started) {
        pthread_mutex_lock(&jn->mu);
        while (jn->busy)
            pthread_cond_wait(&jn->cv, &jn->mu);
        jn->stop = 1;
        pthread_cond_broadcast(&jn->cv);
        pthread_mutex_unlock(&jn->mu);
        pthread_join(jn->th, NULL);
        /* Durable as it is: then the next open need not go back to the
         * checkpoint (the image goes first, then the records). */
        clean = jn->txn == NULL && mdb_env_sync(s->env, 1) == 0 && img_remove(s->dir) == 0 &&
                cpm_journal_reset_files(s->dir) == 0;
        if (!clean)
            cpm_warn("store: %s closed without emptying its journal: the next open applies it",
                     s->dir);
    }
    if (jn->pin)
        mdb_txn_abort(jn->pin);
    if (jn->pin_new)
        mdb_txn_abort(jn->pin_new);
    mdb_env_set_flags(s->env, MDB_NOSYNC, 0);
    cpm_journal_destroy(&jn->j);
    if (jn->img_fd >= 0)
        close(jn->img_fd);
    pthread_mutex_destroy(&jn->mu);
    pthread_cond_destroy(&jn->cv);
    store_ws_destroy(&jn->ws);
    free(jn->img);
    free(jn);
    s->jn = NULL;
}

void store_jn_begin(cpm_store_t *s, MDB_txn *txn)
{
    store_jn_t *jn = s->jn;
    if (jn == NULL)
        return;
    jn->txn = txn;
    store_ws_reset(jn->ws);
    jn->step = 0;
}

bool store_jn_owns(const cpm_store_t *s, const MDB_txn *txn)
{
    return s->jn != NULL && txn != NULL && s->jn->txn == txn;
}

void store_jn_abort(cpm_store_t *s, MDB_txn *txn)
{
    if (store_jn_owns(s, txn))
        s->jn->txn = NULL;
}

store_ws_t *store_jn_ws(cpm_store_t *s)
{
    return s->jn != NULL && s->jn->txn != NULL ? s->jn->ws : NULL;
}

/* ---- commits ------------------------------------------------------------ */

/* After LMDB committed what the journal could not take (a record too large,
 * a journal write that failed): a checkpoint of its own. When that fails too,
 * the commit is in LMDB, seen by every later transaction, yet neither
 * journaled nor durable: carrying on would build on it, and answering it
 * with an error would be untrue. The process stops; its restart brings the
 * store back to its last checkpoint and journal, without this commit (which
 * was never acknowledged). */
static int pay(cpm_store_t *s)
{
    if (ckpt_now(s) != 0) {
        cpm_error("store: %s: a commit could be neither journaled nor made durable: stopping "
                  "(the restart applies the journal; see docs/operations.md \"A store's redo "
                  "journal\")",
                  s->dir);
        abort();
    }
    return 0;
}

/* The flush of a record appended early failed: the process may not know
 * what reached the disk (see sync_failed), so the store is made durable as
 * it is by a checkpoint of its own, or the process stops (pay). */
static void early_failed(cpm_store_t *s, int err)
{
    cpm_error("store: %s: journal flush failed (%s): a checkpoint instead", s->dir, strerror(err));
    s->jn->by_ckpt++;
    (void)pay(s);
}

/* Before the next record: the one appended early is flushed. */
static void settle(cpm_store_t *s)
{
    int err = s->jn->fl ? cpm_flusher_wait(s->jn->fl) : 0;
    if (err != 0)
        early_failed(s, err);
}

static int jn_commit(cpm_store_t *s, MDB_txn *txn, uint64_t *ticket)
{
    store_jn_t *jn = s->jn;
    if (ticket)
        *ticket = 0;
    if (store_ws_empty(jn->ws) && !jn->step) { /* wrote nothing */
        jn->txn = NULL;
        int rc = mdb_txn_commit(txn);
        return rc ? cpm_store_err(rc) : 0;
    }
    uint64_t seq = jn->seq + 1;
    uint8_t b[8];
    cpm_put_be64(b, seq);
    MDB_val k = {strlen(KEY_SEQ), (void *)KEY_SEQ}, v = {8, b};
    const uint8_t *payload = NULL;
    size_t plen = 0;
    int rc = cpm_store_mdb_put(s, txn, s_meta_dbi(s), &k, &v, 0);
    if (rc == 0)
        rc = store_ws_build(jn->ws, s, txn, &payload, &plen) == 0 ? 0 : ENOMEM;
    jn->txn = NULL;
    if (rc != 0) {
        mdb_txn_abort(txn);
        if (rc == MDB_MAP_FULL)
            s->full_seen = 1;
        else
            cpm_error("store: journal: cannot prepare record %llu: %s", (unsigned long long)seq,
                      mdb_strerror(rc));
        return cpm_store_err(rc);
    }
    bool by_ckpt = plen > cpm_journal_payload_max(jn->j) / LARGE_DIV;
    if (!by_ckpt && cpm_journal_room(jn->j) < cpm_journal_record_size(plen)) {
        ckpt_wait(jn); /* the other segment is free once it ends, unless it failed */
        by_ckpt = !cpm_journal_can_switch(jn->j) || ckpt_begin(s) != 1 ||
                  cpm_journal_room(jn->j) < cpm_journal_record_size(plen);
    }
    if ((rc = mdb_txn_commit(txn)) != 0) {
        s->full_seen = rc == MDB_MAP_FULL;
        return cpm_store_err(rc);
    }
    jn->seq = seq;
    /* Every record is flushed, relaxed commits' too (cpm_store_commit_relaxed):
     * one left unflushed before a flushed one could be lost while the later
     * one is kept, a gap the store would refuse to open with. They are the
     * senders' ack records, a few a second per stream (LMDB's relaxed commit
     * took one flush too). A record appended early is flushed before the
     * next is written (settle), so that only the last may be unflushed. */
    settle(s);
    bool early = ticket != NULL && !by_ckpt;
    /* A checkpoint that is due begins here, before this record is written
     * (its state holds this commit; the record, past it, is skipped by a
     * replay from it): after the flush beside the writer had begun, its
     * segment switch would wait for that flush on the writer thread. */
    if (!by_ckpt && (cpm_mono_ms() - jn->last_ckpt_ms >= (int64_t)jn->ckpt_ms ||
                     cpm_journal_fill(jn->j) >= 0.5))
        (void)ckpt_begin(s); /* when it cannot now, at a later commit */
    if (by_ckpt || cpm_journal_append(jn->j, seq, payload, plen, !early) != 0) {
        jn->by_ckpt++;
        return pay(s);
    }
    if (early) {
        int err = cpm_flusher_start(jn->fl, cpm_journal_active_fd(jn->j), seq);
        if (err != 0) { /* cannot happen after settle; made durable here if it does */
            early_failed(s, err);
        } else {
            *ticket = seq;
            jn->early++;
        }
    }
    jn->records++;
    return 0;
}

int store_jn_commit(cpm_store_t *s, MDB_txn *txn)
{
    return jn_commit(s, txn, NULL);
}

int store_jn_commit_early(cpm_store_t *s, MDB_txn *txn, uint64_t *ticket)
{
    return jn_commit(s, txn, ticket);
}

bool store_jn_flushed(cpm_store_t *s, uint64_t ticket)
{
    store_jn_t *jn = s->jn;
    int err = 0;
    if (ticket == 0 || jn == NULL || jn->fl == NULL)
        return true;
    /* Inside a write transaction a failed flush waits for the writer's
     * next commit (settle): its checkpoint needs no transaction open. */
    if (!cpm_flusher_done(jn->fl, ticket, jn->txn != NULL ? NULL : &err))
        return false;
    if (err != 0)
        early_failed(s, err);
    return true;
}

void store_jn_wait_flushed(cpm_store_t *s)
{
    if (s->jn != NULL)
        settle(s);
}

int store_jn_flush_fd(const cpm_store_t *s)
{
    return s->jn && s->jn->fl ? cpm_flusher_fd(s->jn->fl) : -1;
}

void store_jn_quiesce(cpm_store_t *s)
{
    /* The holds stay: LMDB refuses mdb_env_set_mapsize only while a write
     * transaction is open, and a read transaction that is never read from
     * holds no pointer into the map (mdb.c 0.9.24); letting them go, even
     * for a moment, would let the next commits reuse the checkpoint's
     * pages. The checkpoint thread is let finish first: it is started only
     * from this (the writer) thread, so it stays idle through the remap. */
    if (s->jn != NULL)
        ckpt_wait(s->jn);
}

int cpm_store_checkpoint(cpm_store_t *s)
{
    if (s->jn == NULL)
        return 0;
    return ckpt_now(s) == 0 ? 0 : CPM_E_STORE_IO; /* nothing unjournaled: the last one stands */
}

bool cpm_store_journaled(const cpm_store_t *s)
{
    return s->jn != NULL;
}

void cpm_store_journal_stats(cpm_store_t *s, cpm_store_journal_stats_t *out)
{
    memset(out, 0, sizeof *out);
    store_jn_t *jn = s->jn;
    if (jn == NULL)
        return;
    out->records = jn->records;
    out->by_checkpoint = jn->by_ckpt;
    out->for_room = jn->for_room;
    out->early = jn->early;
    pthread_mutex_lock(&jn->mu);
    out->checkpoints = jn->ckpt_made;
    out->checkpoint_failures = jn->ckpt_failures;
    pthread_mutex_unlock(&jn->mu);
}

void cpm_store_tick(cpm_store_t *s)
{
    store_jn_t *jn = s->jn;
    if (jn == NULL || jn->txn != NULL)
        return;
    pthread_mutex_lock(&jn->mu);
    uint64_t durable = jn->img_seq; /* written by the checkpoint thread */
    pthread_mutex_unlock(&jn->mu);
    /* Not while a flush beside the writer runs (it would wait for it):
     * at the next commit or tick. */
    if (jn->seq != durable && cpm_mono_ms() - jn->last_ckpt_ms >= (int64_t)jn->ckpt_ms &&
        !(jn->fl && cpm_flusher_busy(jn->fl)))
        (void)ckpt_begin(s);
}

uint64_t store_jn_pinned(cpm_store_t *s)
{
    store_jn_t *jn = s->jn;
    if (jn == NULL)
        return 0;
    pthread_mutex_lock(&jn->mu);
    MDB_txn *pin = jn->pin ? jn->pin : jn->pin_new;
    uint64_t id = pin ? (uint64_t)mdb_txn_id(pin) : 0;
    pthread_mutex_unlock(&jn->mu);
    return id;
}

int store_jn_make_room(cpm_store_t *s)
{
    store_jn_t *jn = s->jn;
    if (jn == NULL || jn->txn != NULL)
        return -1;
    if (ckpt_now(s) != 0)
        return -1;
    jn->for_room++;
    int64_t now = cpm_mono_ms();
    if (now - jn->room_logged_ms >= 10000) { /* one line per 10 s at most */
        jn->room_logged_ms = now;
        cpm_info("store: %s: pages freed since the last checkpoint held the store above its "
                 "mark: checkpoint made early (%llu so far)",
                 s->dir, (unsigned long long)jn->for_room);
    }
    return 0;
}

int store_jn_step(cpm_store_t *s)
{
    store_jn_t *jn = s->jn;
    MDB_txn *txn = NULL;
    if (jn == NULL || jn->txn != NULL || cpm_store_begin(s, true, &txn) != 0)
        return -1;
    jn->step = 1;          /* the record holds the journal's sequence number alone */
    store_cur_end(s, txn); /* as cpm_store_commit does: LMDB frees its cursors */
    return store_jn_commit(s, txn) == 0 ? 0 : -1;
}

void store_jn_relieve(cpm_store_t *s)
{
    if (s->jn == NULL || s->jn->txn != NULL)
        return;
    if (ckpt_now(s) == 0)
        cpm_info("store: %s: the map was full: checkpoint made, the pages it held free again",
                 s->dir);
}
