/* Tests for the store's kept cursors (cpm_store_cursors.c): cpm_store's gets,
 * puts and deletes in a write transaction go through one cursor per database,
 * lent by LMDB to nested transactions and forgotten with the transaction it
 * was opened in. Checked against LMDB's plain calls: the same random work
 * (puts of every size, appends, deletes, gets, a caller's own cursor writing
 * beside them, a database emptied, nested transactions committed or undone,
 * whole transactions aborted) on a store through cpm_store and on a second
 * LMDB environment through mdb_get, mdb_put and mdb_del gives every answer
 * and every byte the same, with and without the journal; and the kept
 * cursors did serve most of the calls. Two stores written by one thread at
 * once, and reads on this thread and another while a write transaction is
 * open, use the plain calls and see what they should. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_err.h"
#include "cpm_store.h"
#include "cpm_store_int.h"
#include "fixtures/store/store_fixture.h"

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const DBS[] = {"alpha", "beta", "gamma", NULL};
#define NDB 3
#define DEPTH 3

typedef struct {
    char dir[64];
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/cpm-cursors-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    nftw(f->dir, stx_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static cpm_store_t *open_store(const fx_t *f, const char *name, bool journal)
{
    char dir[128], err[512] = "";
    snprintf(dir, sizeof dir, "%s/%s", f->dir, name);
    cpm_store_opts_t o = {.map_size = 64u << 20, .journal = journal};
    cpm_store_t *s = cpm_store_open_with(dir, &o, DBS, err, sizeof err);
    if (s == NULL)
        fail_msg("open %s: %s", dir, err);
    return s;
}

/* The reference: a plain LMDB environment with the same databases. */
typedef struct {
    MDB_env *env;
    MDB_dbi dbi[NDB];
} ref_t;

static void ref_open(const fx_t *f, ref_t *r)
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s/ref", f->dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(mdb_env_create(&r->env), 0);
    assert_int_equal(mdb_env_set_maxdbs(r->env, 8), 0);
    assert_int_equal(mdb_env_set_mapsize(r->env, 64u << 20), 0);
    assert_int_equal(mdb_env_open(r->env, dir, MDB_NOSYNC, 0600), 0);
    MDB_txn *t;
    assert_int_equal(mdb_txn_begin(r->env, NULL, 0, &t), 0);
    for (int d = 0; d < NDB; d++)
        assert_int_equal(mdb_dbi_open(t, DBS[d], MDB_CREATE, &r->dbi[d]), 0);
    assert_int_equal(mdb_txn_commit(t), 0);
}

typedef struct {
    cpm_store_t *s;
    ref_t *r;
    MDB_txn *a[DEPTH + 1], *b[DEPTH + 1];
    int top; /* a[top], b[top]: the innermost transactions */
    unsigned seed;
    unsigned appended; /* keys appended so far ("z" + a count: above every other) */
} run_t;

static void make_value(run_t *w, uint8_t *v, size_t *n)
{
    static const size_t sizes[] = {0, 1, 8, 60, 300, 1500, 5000}; /* 5000: an overflow page */
    *n = sizes[rand_r(&w->seed) % 7];
    uint8_t b = (uint8_t)rand_r(&w->seed);
    for (size_t i = 0; i < *n; i++)
        v[i] = (uint8_t)(b + i * 7);
}

static void same_get(run_t *w, int d, const char *key)
{
    const void *av;
    size_t alen;
    int arc = cpm_store_get(w->s, w->a[w->top], DBS[d], key, strlen(key), &av, &alen);
    MDB_val k = {strlen(key), (void *)key}, bv;
    int brc = mdb_get(w->b[w->top], w->r->dbi[d], &k, &bv);
    if (brc == MDB_NOTFOUND) {
        assert_int_equal(arc, CPM_E_NOT_FOUND);
        return;
    }
    assert_int_equal(brc, 0);
    assert_int_equal(arc, 0);
    assert_int_equal(alen, bv.mv_size);
    assert_memory_equal(av, bv.mv_data, alen);
}

/* One random operation on both sides. */
static void step(run_t *w)
{
    static uint8_t v[5000];
    size_t vn;
    int d = rand_r(&w->seed) % NDB;
    char key[32];
    /* keys close together (a leaf holds several) and far apart */
    snprintf(key, sizeof key, "k%05d", rand_r(&w->seed) % 600);
    MDB_txn *a = w->a[w->top], *b = w->b[w->top];
    MDB_val k = {strlen(key), key}, bv;
    int op = rand_r(&w->seed) % 100;
    if (op < 35) { /* put */
        make_value(w, v, &vn);
        bv = (MDB_val){vn, v};
        assert_int_equal(cpm_store_put(w->s, a, DBS[d], key, strlen(key), v, vn), 0);
        assert_int_equal(mdb_put(b, w->r->dbi[d], &k, &bv, 0), 0);
    } else if (op < 60) {
        same_get(w, d, key);
    } else if (op < 75) { /* delete, present or not */
        int arc = cpm_store_del(w->s, a, DBS[d], key, strlen(key));
        int brc = mdb_del(b, w->r->dbi[d], &k, NULL);
        assert_int_equal(arc, brc == MDB_NOTFOUND ? CPM_E_NOT_FOUND : 0);
        assert_true(brc == 0 || brc == MDB_NOTFOUND);
    } else if (op < 80) { /* an append, above every key */
        snprintf(key, sizeof key, "z%08u", w->appended++);
        k = (MDB_val){strlen(key), key};
        make_value(w, v, &vn);
        MDB_val av = {vn, v};
        bv = (MDB_val){vn, v};
        assert_int_equal(
            cpm_store_mdb_put(w->s, a, cpm_store_dbi(w->s, DBS[d]), &k, &av, MDB_APPEND), 0);
        assert_int_equal(mdb_put(b, w->r->dbi[d], &k, &bv, MDB_APPEND), 0);
    } else if (op < 85) { /* the caller's own cursor writes beside the kept one */
        MDB_cursor *c;
        assert_int_equal(mdb_cursor_open(a, cpm_store_dbi(w->s, DBS[d]), &c), 0);
        make_value(w, v, &vn);
        MDB_val av = {vn, v};
        bv = (MDB_val){vn, v};
        assert_int_equal(cpm_store_cursor_put(w->s, c, &k, &av, 0), 0);
        assert_int_equal(mdb_put(b, w->r->dbi[d], &k, &bv, 0), 0);
        if (rand_r(&w->seed) % 2) { /* and deletes what it wrote */
            MDB_val got;
            assert_int_equal(mdb_cursor_get(c, &k, &got, MDB_SET), 0);
            assert_int_equal(cpm_store_cursor_del(w->s, c), 0);
            assert_int_equal(mdb_del(b, w->r->dbi[d], &k, NULL), 0);
        }
        mdb_cursor_close(c);
    } else if (op < 92 && w->top < DEPTH) { /* a nested transaction */
        MDB_txn *ca, *cb;
        assert_int_equal(cpm_store_begin_child(w->s, a, &ca), 0);
        assert_int_equal(mdb_txn_begin(w->r->env, b, 0, &cb), 0);
        w->top++;
        w->a[w->top] = ca;
        w->b[w->top] = cb;
    } else if (op < 99 && w->top > 0) { /* it ends: kept or undone */
        if (rand_r(&w->seed) % 3) {
            assert_int_equal(cpm_store_commit(a), 0);
            assert_int_equal(mdb_txn_commit(b), 0);
        } else {
            cpm_store_abort(&w->a[w->top]);
            mdb_txn_abort(b);
        }
        w->top--;
    } else if (op == 99) { /* a database emptied */
        assert_int_equal(cpm_store_mdb_drop(w->s, a, cpm_store_dbi(w->s, DBS[d])), 0);
        assert_int_equal(mdb_drop(b, w->r->dbi[d], 0), 0);
    }
}

static void dump_equal(run_t *w)
{
    MDB_txn *a, *b;
    assert_int_equal(cpm_store_begin(w->s, false, &a), 0);
    assert_int_equal(mdb_txn_begin(w->r->env, NULL, MDB_RDONLY, &b), 0);
    for (int d = 0; d < NDB; d++) {
        MDB_cursor *ca, *cb;
        assert_int_equal(mdb_cursor_open(a, cpm_store_dbi(w->s, DBS[d]), &ca), 0);
        assert_int_equal(mdb_cursor_open(b, w->r->dbi[d], &cb), 0);
        MDB_val ka, va, kb, vb;
        int ra = mdb_cursor_get(ca, &ka, &va, MDB_FIRST),
            rb = mdb_cursor_get(cb, &kb, &vb, MDB_FIRST);
        for (; ra == 0 && rb == 0; ra = mdb_cursor_get(ca, &ka, &va, MDB_NEXT),
                                   rb = mdb_cursor_get(cb, &kb, &vb, MDB_NEXT)) {
            assert_int_equal(ka.mv_size, kb.mv_size);
            assert_memory_equal(ka.mv_data, kb.mv_data, ka.mv_size);
            assert_int_equal(va.mv_size, vb.mv_size);
            assert_memory_equal(va.mv_data, vb.mv_data, va.mv_size);
        }
        assert_int_equal(ra, MDB_NOTFOUND);
        assert_int_equal(rb, MDB_NOTFOUND);
        mdb_cursor_close(ca);
        mdb_cursor_close(cb);
    }
    cpm_store_abort(&a);
    mdb_txn_abort(b);
}

static void same_as_plain_lmdb(void **state, bool journal)
{
    fx_t *f = *state;
    ref_t r;
    ref_open(f, &r);
    run_t w = {.s = open_store(f, "store", journal), .r = &r, .seed = journal ? 7 : 3};
    uint64_t hits = store_cur_hits();
    size_t calls = 0;
    for (int t = 0; t < 300; t++) {
        assert_int_equal(cpm_store_begin(w.s, true, &w.a[0]), 0);
        assert_int_equal(mdb_txn_begin(r.env, NULL, 0, &w.b[0]), 0);
        w.top = 0;
        int ops = 1 + rand_r(&w.seed) % 60;
        for (int i = 0; i < ops; i++, calls++)
            step(&w);
        for (int d = 0; d < NDB; d++) /* what the transaction sees at its end */
            for (int k = 0; k < 600; k += 37) {
                char key[32];
                snprintf(key, sizeof key, "k%05d", k);
                same_get(&w, d, key);
            }
        while (w.top > 0) { /* its children end first */
            assert_int_equal(cpm_store_commit(w.a[w.top]), 0);
            assert_int_equal(mdb_txn_commit(w.b[w.top]), 0);
            w.top--;
        }
        if (rand_r(&w.seed) % 10 == 0) {
            cpm_store_abort(&w.a[0]);
            mdb_txn_abort(w.b[0]);
        } else {
            assert_int_equal(cpm_store_commit(w.a[0]), 0);
            assert_int_equal(mdb_txn_commit(w.b[0]), 0);
        }
        if (t % 50 == 49)
            dump_equal(&w);
    }
    dump_equal(&w);
    /* the kept cursors served the calls (the others: not followed, none) */
    assert_true(store_cur_hits() - hits > calls / 2);
    cpm_store_destroy(&w.s);
    mdb_env_close(r.env);
}

static void test_same_as_plain_lmdb(void **state)
{
    same_as_plain_lmdb(state, false);
}

static void test_same_as_plain_lmdb_journaled(void **state)
{
    same_as_plain_lmdb(state, true);
}

typedef struct {
    cpm_store_t *s;
    int rc;
    char got[16];
} reader_t;

static void *read_committed(void *arg)
{
    reader_t *r = arg;
    MDB_txn *t;
    const void *v;
    size_t n;
    r->rc = cpm_store_begin(r->s, false, &t);
    if (r->rc == 0) {
        r->rc = cpm_store_get(r->s, t, "alpha", "key", 3, &v, &n);
        if (r->rc == 0)
            snprintf(r->got, sizeof r->got, "%.*s", (int)n, (const char *)v);
        cpm_store_abort(&t);
    }
    return NULL;
}

/* One thread writes two stores at once; another reads while a write
 * transaction is open: each sees its own transaction's state. */
static void test_two_stores_and_a_reader(void **state)
{
    fx_t *f = *state;
    cpm_store_t *s1 = open_store(f, "one", false), *s2 = open_store(f, "two", false);
    MDB_txn *t1, *t2;
    assert_int_equal(cpm_store_begin(s1, true, &t1), 0);
    assert_int_equal(cpm_store_put(s1, t1, "alpha", "key", 3, "committed", 9), 0);
    assert_int_equal(cpm_store_commit(t1), 0);
    assert_int_equal(cpm_store_begin(s1, true, &t1), 0);
    assert_int_equal(cpm_store_put(s1, t1, "alpha", "key", 3, "open", 4), 0);
    const void *v;
    size_t n;
    /* a read on this thread, beside its open write: the committed state */
    MDB_txn *rd;
    assert_int_equal(cpm_store_begin(s1, false, &rd), 0);
    assert_int_equal(cpm_store_get(s1, rd, "alpha", "key", 3, &v, &n), 0);
    assert_int_equal(n, 9);
    assert_memory_equal(v, "committed", 9);
    cpm_store_abort(&rd);
    assert_int_equal(cpm_store_begin(s2, true, &t2), 0); /* the thread now follows s2 */
    assert_int_equal(cpm_store_put(s2, t2, "alpha", "key", 3, "second", 6), 0);
    assert_int_equal(cpm_store_get(s1, t1, "alpha", "key", 3, &v, &n), 0);
    assert_int_equal(n, 4);
    assert_memory_equal(v, "open", 4);
    assert_int_equal(cpm_store_put(s1, t1, "beta", "x", 1, "1", 1), 0);
    assert_int_equal(cpm_store_del(s1, t1, "beta", "x", 1), 0);
    reader_t r = {.s = s1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, read_committed, &r), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.got, "committed");
    assert_int_equal(cpm_store_commit(t2), 0);
    assert_int_equal(cpm_store_get(s1, t1, "alpha", "key", 3, &v, &n), 0);
    assert_memory_equal(v, "open", 4);
    assert_int_equal(cpm_store_commit(t1), 0);
    assert_int_equal(cpm_store_begin(s2, false, &t2), 0);
    assert_int_equal(cpm_store_get(s2, t2, "alpha", "key", 3, &v, &n), 0);
    assert_memory_equal(v, "second", 6);
    cpm_store_abort(&t2);
    cpm_store_destroy(&s1);
    cpm_store_destroy(&s2);
}

/* A transaction the store begins and commits by itself (store_jn_step, which
 * cpm_store_make_room takes to let held pages go) is followed to its end:
 * LMDB frees the cursor it kept. A raw write transaction after it (LMDB
 * reuses the top-level transaction's object) then goes to the plain calls,
 * never to that cursor. */
static void test_store_own_step_is_followed(void **state)
{
    fx_t *f = *state;
    cpm_store_t *s = open_store(f, "step", true);
    MDB_txn *txn;
    assert_int_equal(cpm_store_begin(s, true, &txn), 0);
    assert_int_equal(cpm_store_put(s, txn, "alpha", "a", 1, "1", 1), 0);
    assert_int_equal(cpm_store_commit(txn), 0);
    assert_int_equal(store_cur_depth(), 0);
    assert_int_equal(store_jn_step(s), 0);
    assert_int_equal(store_cur_depth(), 0);
    MDB_env *env = NULL;
    assert_int_equal(cpm_store_begin(s, false, &txn), 0);
    env = mdb_txn_env(txn);
    cpm_store_abort(&txn);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    MDB_val k = {5, "after"}, v = {3, "raw"};
    assert_int_equal(cpm_store_mdb_put(s, txn, cpm_store_dbi(s, "meta"), &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    const void *got;
    size_t n;
    assert_int_equal(cpm_store_begin(s, false, &txn), 0);
    assert_int_equal(cpm_store_get(s, txn, "meta", "after", 5, &got, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(got, "raw", 3);
    cpm_store_abort(&txn);
    cpm_store_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_same_as_plain_lmdb, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_as_plain_lmdb_journaled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_stores_and_a_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_own_step_is_followed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
