/* cpm_store_space: the headroom that keeps a full store able to drain, and
 * growth of the map. See "Space" in cpm_store.h. */
#include "cpm_err.h"
#include "cpm_log.h"
#include "cpm_store.h"
#include "cpm_store_int.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#define FREE_DBI 0 /* LMDB's own: the free list, and the table of named databases */
#define MAIN_DBI 1
#define META_PAGES 2

void cpm_store_set_limits(cpm_store_t *s, size_t map_max, unsigned high_water_pct)
{
    if (map_max)
        s->map_max = map_max;
    if (high_water_pct >= CPM_STORE_HIGH_WATER_MIN && high_water_pct <= CPM_STORE_HIGH_WATER_MAX)
        s->high_water_pct = high_water_pct;
}

static int add_pages(MDB_txn *txn, MDB_dbi dbi, size_t *pages, size_t *psize)
{
    MDB_stat st;
    int rc = mdb_stat(txn, dbi, &st);
    if (rc != 0) {
        cpm_error("store: cannot measure database %u: %s", (unsigned)dbi, mdb_strerror(rc));
        return cpm_store_err(rc);
    }
    *pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    *psize = st.ms_psize;
    return 0;
}

/* Free pages LMDB may not reuse yet because the last checkpoint's state
 * (a read transaction, store_jn_pinned) may still read them: the free list's
 * entries of the transactions after it (LMDB reuses an entry only when it is
 * older than every reader: mdb_page_alloc). Walked in a read transaction of
 * its own (LMDB opens no cursor on the free list in a write one); the
 * entries are those of one checkpoint's interval. cached: once per write
 * transaction (cpm_store_admit asks before every request of a group). The
 * pages txn itself freed are not yet listed; they are within its own size. */
static int held_pages(cpm_store_t *s, MDB_txn *txn, bool cached, size_t *held)
{
    uint64_t since = store_jn_pinned(s);
    uint64_t id = (uint64_t)mdb_txn_id(txn);
    *held = 0;
    if (since == 0)
        return 0;
    if (cached && s->held_txnid == id && s->held_since == since) {
        *held = s->held_pages;
        return 0;
    }
    MDB_txn *r = NULL;
    MDB_cursor *c = NULL;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &r);
    if (rc == 0)
        rc = mdb_cursor_open(r, FREE_DBI, &c);
    size_t key = (size_t)since, n = 0;
    MDB_val k = {sizeof key, &key}, v;
    for (int op = MDB_SET_RANGE; rc == 0; op = MDB_NEXT) {
        rc = mdb_cursor_get(c, &k, &v, op);
        if (rc == 0 && v.mv_size >= sizeof(size_t)) {
            size_t count; /* an ID list: its length, then the pages */
            memcpy(&count, v.mv_data, sizeof count);
            n += count;
        }
    }
    if (c)
        mdb_cursor_close(c);
    if (r)
        mdb_txn_abort(r);
    if (rc != MDB_NOTFOUND) {
        cpm_error("store: cannot measure the free list: %s", mdb_strerror(rc));
        return cpm_store_err(rc);
    }
    s->held_txnid = id;
    s->held_since = since;
    s->held_pages = n;
    *held = n;
    return 0;
}

/* Pages in every tree as txn sees them (its own writes included: a group
 * of requests is measured as it grows, not only at its start) and pages
 * held for the last checkpoint; the page size. */
static int count_pages(cpm_store_t *s, MDB_txn *txn, bool cached, size_t *live, size_t *held,
                       size_t *psize)
{
    size_t pages = META_PAGES;
    int rc = add_pages(txn, FREE_DBI, &pages, psize);
    if (rc == 0)
        rc = add_pages(txn, MAIN_DBI, &pages, psize);
    for (size_t i = 0; rc == 0 && i < s->ndbs; i++)
        rc = add_pages(txn, s->dbs[i].dbi, &pages, psize);
    if (rc == 0)
        rc = held_pages(s, txn, cached, held);
    *live = pages;
    return rc;
}

static int usage(cpm_store_t *s, MDB_txn *txn, bool cached, size_t *used, size_t *map_size)
{
    size_t live = 0, held = 0, psize = 0;
    int rc = count_pages(s, txn, cached, &live, &held, &psize);
    if (rc != 0)
        return rc;
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    *used = (live + held) * psize;
    *map_size = info.me_mapsize;
    return 0;
}

int cpm_store_usage(cpm_store_t *s, MDB_txn *txn, size_t *used, size_t *map_size)
{
    return usage(s, txn, false, used, map_size);
}

static int above_mark(const cpm_store_t *s, size_t used, size_t map)
{
    return (unsigned long long)used * 100 > (unsigned long long)map * s->high_water_pct;
}

/* Within a sixteenth of the map below the mark: near enough that the next
 * group of requests, measured as it grows (cpm_store_admit), may cross it. */
static int near_mark(const cpm_store_t *s, size_t used, size_t map)
{
    return above_mark(s, used + map / 16, map);
}

int cpm_store_admit(cpm_store_t *s, MDB_txn *txn)
{
    size_t used, map;
    int rc = usage(s, txn, true, &used, &map);
    if (rc != 0)
        return rc;
    int over = above_mark(s, used, map);
    if (over && !s->refusing)
        cpm_warn("store: %zu of %zu KiB in use, above the high-water mark of %u%%: new work "
                 "is refused (store_full) until deliveries free space; raise map_max_mb to "
                 "let the map grow",
                 used >> 10, map >> 10, s->high_water_pct);
    else if (!over && s->refusing)
        cpm_info("store: %zu of %zu KiB in use, below the high-water mark again: accepting "
                 "new work",
                 used >> 10, map >> 10);
    s->refusing = over;
    return over ? CPM_E_STORE_FULL : 0;
}

/* Bytes the map may still grow by on the data file's disk, leaving half of the
 * free space to others; 0 when that cannot be seen. */
static size_t disk_allowance(const cpm_store_t *s, size_t map)
{
    struct statvfs vfs;
    struct stat st;
    char path[4096];
    snprintf(path, sizeof path, "%s/data.mdb", s->dir);
    if (statvfs(s->dir, &vfs) != 0 || stat(path, &st) != 0) {
        cpm_warn("store: cannot see the free space under %s: %s", s->dir, strerror(errno));
        return 0;
    }
    unsigned long long avail = (unsigned long long)vfs.f_bavail * vfs.f_frsize / 2;
    unsigned long long file = (unsigned long long)st.st_size;
    /* The file grows up to the map as pages are written. */
    unsigned long long room = file + avail > map ? file + avail - map : 0;
    return room > SIZE_MAX ? SIZE_MAX : (size_t)room;
}

/* What a read transaction sees now: bytes used (live and held) and held. */
static int measure_now(cpm_store_t *s, size_t *used, size_t *held, size_t *map)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return cpm_store_err(rc);
    size_t live = 0, psize = 0;
    rc = count_pages(s, txn, false, &live, held, &psize);
    mdb_txn_abort(txn);
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    *used = (live + *held) * psize;
    *held *= psize;
    *map = info.me_mapsize;
    return rc;
}

/* Above the mark only because of the pages held for the last checkpoint. */
static int held_put_above(const cpm_store_t *s, size_t used, size_t held, size_t map)
{
    return held > 0 && above_mark(s, used, map) && !above_mark(s, used - held, map);
}

size_t store_space_grow_to(size_t map, size_t map_max, size_t room, size_t psize, bool above)
{
    size_t want = map > map_max / 2 ? map_max : map * 2;
    if (want > map && want - map > room)
        want = map + room;
    want -= want % psize;
    /* Before the mark, only a step worth a remap (the loop waits for one):
     * with the disk nearly full the room left grows by half of what the
     * file grows, and small steps would remap at every group. */
    if (!above && want < map + map / 16)
        return map;
    return want > map ? want : map;
}

int cpm_store_make_room(cpm_store_t *s)
{
    size_t used, held, map;
    int rc = measure_now(s, &used, &held, &map);
    if (rc != 0 || !near_mark(s, used, map))
        return rc;
    /* Held pages are free after a checkpoint: cheaper than a larger map,
     * and the only way when the map cannot grow. Only when they are what
     * puts the store above its mark: a store full of live data makes no
     * checkpoint per transaction. LMDB reuses a free-list entry only when it
     * is older than every reader, and the checkpoint reads the last commit's
     * state: what that commit freed (all of a large deletion) stays held
     * after the first one; one transaction more and a second let it go. */
    for (int round = 0; rc == 0 && held_put_above(s, used, held, map) && round < 2; round++) {
        if ((round == 1 && store_jn_step(s) != 0) || store_jn_make_room(s) != 0)
            break;
        rc = measure_now(s, &used, &held, &map);
    }
    /* A map that may grow grows before the mark, not once new work is
     * refused: near it, a group's items would cross it one by one. Near it
     * by its live pages: those held for the last checkpoint are free after
     * the next one, which is cheaper than a larger map that stays. */
    bool above = above_mark(s, used, map);
    if (rc != 0 || !(above || (s->map_max > map && near_mark(s, used - held, map))))
        return rc;
    size_t room = s->map_max > map ? disk_allowance(s, map) : 0;
    MDB_stat st;
    mdb_env_stat(s->env, &st);
    size_t want = store_space_grow_to(map, s->map_max, room, st.ms_psize, above);
    if (want <= map) {
        if (!above) /* near the mark only: said once it is above */
            return 0;
        if (!s->grow_warned && s->map_max <= map)
            cpm_warn("store: the map stays at %zu KiB: map_max_mb reached", map >> 10);
        else if (!s->grow_warned)
            cpm_warn("store: the map stays at %zu KiB: the disk under %s has room for %zu KiB "
                     "more (half its free space)",
                     map >> 10, s->dir, room >> 10);
        s->grow_warned = 1;
        return 0;
    }
    /* Safe: no transaction is open in this process (the caller's promise),
     * and no other process opens this store. */
    store_jn_quiesce(s);
    rc = mdb_env_set_mapsize(s->env, want);
    if (rc != 0) {
        cpm_error("store: cannot grow the map to %zu KiB: %s", want >> 10, mdb_strerror(rc));
        return cpm_store_err(rc);
    }
    cpm_info("store: map grown from %zu to %zu KiB (%zu KiB in use, high-water mark %u%%)",
             map >> 10, want >> 10, used >> 10, s->high_water_pct);
    s->grow_warned = 0;
    return 0;
}
