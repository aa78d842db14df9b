/* Tests for cpm_store: open, schema, databases, error mapping, a full map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_err.h"
#include "cpm_store.h"
#include "cpm_store_int.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    char dir[64];  /* mkdtemp folder, removed afterwards */
    char data[96]; /* the store's data dir inside it (not yet created) */
} fixture_t;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/cpm-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->data, sizeof f->data, "%s/a/b/data", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static cpm_store_t *open_ok(const char *dir, size_t map, const char *const *extra)
{
    char err[256] = "";
    cpm_store_t *s = cpm_store_open(dir, map, extra, err, sizeof err);
    if (s == NULL)
        fail_msg("open %s: %s", dir, err);
    return s;
}

static void put_commit(cpm_store_t *s, const char *db, const char *key, const char *val)
{
    MDB_txn *txn;
    assert_int_equal(cpm_store_begin(s, true, &txn), 0);
    assert_int_equal(cpm_store_put(s, txn, db, key, strlen(key), val, strlen(val)), 0);
    assert_int_equal(cpm_store_commit(txn), 0);
}

/* Value of key as a string, or NULL when absent (static buffer). */
static const char *get_str(cpm_store_t *s, const char *db, const char *key)
{
    static char buf[256];
    MDB_txn *txn;
    const void *v;
    size_t len;
    assert_int_equal(cpm_store_begin(s, false, &txn), 0);
    int rc = cpm_store_get(s, txn, db, key, strlen(key), &v, &len);
    if (rc == 0) {
        assert_true(len < sizeof buf);
        memcpy(buf, v, len);
        buf[len] = 0;
    } else {
        assert_int_equal(rc, CPM_E_NOT_FOUND);
    }
    cpm_store_abort(&txn);
    assert_null(txn);
    return rc == 0 ? buf : NULL;
}

static void test_open_creates_private_dir_and_schema(void **state)
{
    fixture_t *f = *state;
    cpm_store_t *s = open_ok(f->data, 0, NULL);
    struct stat st;
    assert_int_equal(stat(f->data, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    char path[160];
    snprintf(path, sizeof path, "%s/data.mdb", f->data);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0077, 0);
    assert_string_equal(get_str(s, "meta", "schema"), "1");
    assert_non_null(cpm_store_env(s));
    /* Every common database exists and is distinct. */
    const char *names[] = {"meta", "outbox", "inbox", "events", "dead"};
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++)
            assert_int_not_equal(cpm_store_dbi(s, names[i]), cpm_store_dbi(s, names[j]));
    cpm_store_destroy(&s);
    assert_null(s);
    cpm_store_destroy(&s); /* twice is fine */
    cpm_store_destroy(NULL);
}

static void test_put_get_del(void **state)
{
    fixture_t *f = *state;
    cpm_store_t *s = open_ok(f->data, 0, NULL);
    MDB_txn *txn;
    assert_int_equal(cpm_store_begin(s, true, &txn), 0);
    assert_int_equal(cpm_store_put(s, txn, "inbox", "k", 1, "v1", 2), 0);
    assert_int_equal(cpm_store_put(s, txn, "inbox", "k", 1, "value2", 6), 0); /* overwrite */
    assert_int_equal(cpm_store_put(s, txn, "dead", "empty", 5, NULL, 0), 0);
    const void *v;
    size_t len;
    assert_int_equal(cpm_store_get(s, txn, "inbox", "k", 1, &v, &len), 0);
    assert_int_equal(len, 6);
    assert_memory_equal(v, "value2", 6);
    assert_int_equal(cpm_store_get(s, txn, "dead", "empty", 5, &v, &len), 0);
    assert_int_equal(len, 0);
    /* Databases are separate namespaces. */
    assert_int_equal(cpm_store_get(s, txn, "outbox", "k", 1, &v, &len), CPM_E_NOT_FOUND);
    assert_int_equal(cpm_store_del(s, txn, "inbox", "k", 1), 0);
    assert_int_equal(cpm_store_get(s, txn, "inbox", "k", 1, &v, &len), CPM_E_NOT_FOUND);
    assert_int_equal(cpm_store_del(s, txn, "inbox", "k", 1), CPM_E_NOT_FOUND);
    assert_int_equal(cpm_store_commit(txn), 0);
    cpm_store_destroy(&s);
}

static void test_bad_keys_and_values(void **state)
{
    fixture_t *f = *state;
    cpm_store_t *s = open_ok(f->data, 0, NULL);
    MDB_txn *txn;
    const void *v;
    size_t len;
    char big[600];
    memset(big, 'k', sizeof big);
    assert_int_equal(cpm_store_begin(s, true, &txn), 0);
    assert_int_equal(cpm_store_put(s, txn, "meta", "", 0, "v", 1), CPM_E_INVALID);
    assert_int_equal(cpm_store_put(s, txn, "meta", NULL, 3, "v", 1), CPM_E_INVALID);
    assert_int_equal(cpm_store_put(s, txn, "meta", big, sizeof big, "v", 1), CPM_E_INVALID);
    assert_int_equal(cpm_store_put(s, txn, "meta", "k", 1, NULL, 4), CPM_E_INVALID);
    assert_int_equal(cpm_store_get(s, txn, "meta", big, sizeof big, &v, &len), CPM_E_INVALID);
    assert_int_equal(cpm_store_del(s, txn, "meta", "", 0), CPM_E_INVALID);
    /* The largest allowed key works. */
    int max = mdb_env_get_maxkeysize(cpm_store_env(s));
    assert_int_equal(cpm_store_put(s, txn, "meta", big, (size_t)max, "v", 1), 0);
    cpm_store_abort(&txn);
    cpm_store_abort(&txn); /* twice is fine */
    cpm_store_abort(NULL);

    /* Writing in a read-only transaction is a bug, reported as internal. */
    assert_int_equal(cpm_store_begin(s, false, &txn), 0);
    assert_int_equal(cpm_store_put(s, txn, "meta", "k", 1, "v", 1), CPM_E_INTERNAL);
    cpm_store_abort(&txn);
    cpm_store_destroy(&s);
}

static void test_abort_discards(void **state)
{
    fixture_t *f = *state;
    cpm_store_t *s = open_ok(f->data, 0, NULL);
    put_commit(s, "meta", "kept", "yes");
    MDB_txn *txn;
    assert_int_equal(cpm_store_begin(s, true, &txn), 0);
    assert_int_equal(cpm_store_put(s, txn, "meta", "gone", 4, "x", 1), 0);
    assert_int_equal(cpm_store_del(s, txn, "meta", "kept", 4), 0);
    cpm_store_abort(&txn);
    assert_null(get_str(s, "meta", "gone"));
    assert_string_equal(get_str(s, "meta", "kept"), "yes");
    cpm_store_destroy(&s);
}

static void test_persists_across_reopen(void **state)
{
    fixture_t *f = *state;
    const char *extra[] = {"cases", "tickets", NULL};
    cpm_store_t *s = open_ok(f->data, 0, extra);
    put_commit(s, "cases", "c1", "open");
    put_commit(s, "meta", "m", "1");
    MDB_txn *txn;
    assert_int_equal(cpm_store_begin(s, true, &txn), 0);
    assert_int_equal(cpm_store_put_u64(s, txn, "counter", 0x0102030405060708ULL), 0);
    assert_int_equal(cpm_store_commit(txn), 0);
    cpm_store_destroy(&s);

    s = open_ok(f->data, 0, extra);
    assert_string_equal(get_str(s, "cases", "c1"), "open");
    assert_string_equal(get_str(s, "meta", "m"), "1");
    assert_string_equal(get_str(s, "meta", "schema"), "1");
    uint64_t v = 0;
    assert_int_equal(cpm_store_begin(s, false, &txn), 0);
    assert_int_equal(cpm_store_get_u64(s, txn, "counter", &v), 0);
    assert_int_equal(v, 0x0102030405060708ULL);
    const void *raw;
    size_t len;
    assert_int_equal(cpm_store_get(s, txn, "meta", "counter", 7, &raw, &len), 0);
    assert_int_equal(len, 8);
    assert_memory_equal(raw, "\x01\x02\x03\x04\x05\x06\x07\x08", 8); /* big-endian */
    cpm_store_abort(&txn);
    cpm_store_destroy(&s);
}

/* A relaxed commit is a commit (visible, kept across a reopen) that leaves
 * the environment durable for the next one. */
static void test_commit_relaxed(void **state)
{
    fixture_t *f = *state;
    cpm_store_t *s = open_ok(f->data, 0, NULL);
    MDB_txn *txn;
    unsigned flags = 0;
    assert_int_equal(cpm_store_begin(s, true, &txn), 0);
    assert_int_equal(cpm_store_put_u64(s, txn, "acked", 7), 0);
    assert_int_equal(cpm_store_commit_relaxed(txn), 0);
    assert_int_equal(mdb_env_get_flags(cpm_store_env(s), &flags), 0);
    assert_int_equal(flags & (MDB_NOMETASYNC | MDB_NOSYNC), 0);
    uint64_t v = 0;
    assert_int_equal(cpm_store_begin(s, false, &txn), 0);
    assert_int_equal(cpm_store_get_u64(s, txn, "acked", &v), 0);
    assert_int_equal(v, 7);
    cpm_store_abort(&txn);
    /* The next durable commit carries the relaxed one with it. */
    put_commit(s, "meta", "m", "1");
    cpm_store_destroy(&s);
    s = open_ok(f->data, 0, NULL);
    assert_int_equal(cpm_store_begin(s, false, &txn), 0);
    assert_int_equal(cpm_store_get_u64(s, txn, "acked", &v), 0);
    assert_int_equal(v, 7);
    cpm_store_abort(&txn);
    assert_string_equal(get_str(s, "meta", "m"), "1");
    cpm_store_destroy(&s);
}

static void test_u64(void **state)
{
    fixture_t *f = *state;
    cpm_store_t *s = open_ok(f->data, 0, NULL);
    MDB_txn *txn;
    uint64_t v = 99;
    assert_int_equal(cpm_store_begin(s, true, &txn), 0);
    assert_int_equal(cpm_store_get_u64(s, txn, "absent", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(cpm_store_put_u64(s, txn, "n", UINT64_MAX), 0);
    assert_int_equal(cpm_store_get_u64(s, txn, "n", &v), 0);
    assert_true(v == UINT64_MAX);
    /* A value that is not 8 bytes is corruption, not a number. */
    assert_int_equal(cpm_store_put(s, txn, "meta", "odd", 3, "abc", 3), 0);
    assert_int_equal(cpm_store_get_u64(s, txn, "odd", &v), CPM_E_INTERNAL);
    assert_int_equal(cpm_store_get_u64(s, txn, "", &v), CPM_E_INVALID);
    cpm_store_abort(&txn);
    cpm_store_destroy(&s);
}

static void test_schema_mismatch_fails_open(void **state)
{
    fixture_t *f = *state;
    cpm_store_t *s = open_ok(f->data, 0, NULL);
    put_commit(s, "meta", "schema", "2");
    cpm_store_destroy(&s);
    char err[256] = "";
    assert_null(cpm_store_open(f->data, 0, NULL, err, sizeof err));
    assert_non_null(strstr(err, "schema version \"2\""));
    assert_non_null(strstr(err, "reads version 1"));
    assert_non_null(strstr(err, f->data));
    assert_null(cpm_store_open(f->data, 0, NULL, NULL, 0)); /* no err buffer: no crash */
}

/* Write meta/schema behind the store's back, as another version would. */
static void raw_set_schema(const char *dir, const char *val)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    MDB_val k = {6, (void *)"schema"}, v = {strlen(val), (void *)val};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void test_schema_garbage_fails_open(void **state)
{
    fixture_t *f = *state;
    cpm_store_t *s = open_ok(f->data, 0, NULL);
    cpm_store_destroy(&s);
    /* Not a number, and a number that merely starts with the right digit. */
    const char *bad[] = {"abc", "10", ""};
    for (int i = 0; i < 3; i++) {
        raw_set_schema(f->data, bad[i]);
        char err[256] = "", want[64];
        assert_null(cpm_store_open(f->data, 0, NULL, err, sizeof err));
        snprintf(want, sizeof want, "schema version \"%s\"", bad[i]);
        assert_non_null(strstr(err, want));
    }
    raw_set_schema(f->data, "1");
    s = open_ok(f->data, 0, NULL);
    cpm_store_destroy(&s);
}

static void test_bad_open_arguments(void **state)
{
    fixture_t *f = *state;
    char err[256];
    char longname[80];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    struct {
        const char *extra[3];
        const char *want;
    } cases[] = {
        {{"", NULL}, "extra_dbs[0] must be 1 to 63 bytes long, not 0"},
        {{"ok", longname, NULL}, "extra_dbs[1] must be 1 to 63 bytes long, not 79"},
        {{"meta", NULL}, "extra_dbs[0] \"meta\" names a database twice"},
        {{"cases", "cases", NULL}, "extra_dbs[1] \"cases\" names a database twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = 0;
        assert_null(cpm_store_open(f->data, 0, cases[i].extra, err, sizeof err));
        assert_string_equal(err, cases[i].want);
    }
    err[0] = 0;
    assert_null(cpm_store_open("", 0, NULL, err, sizeof err));
    assert_string_equal(err, "dir (the data directory) is empty");
    assert_null(cpm_store_open(NULL, 0, NULL, err, sizeof err));

    /* A data dir that cannot be created: a path through a regular file. */
    char file[128], bad[160];
    snprintf(file, sizeof file, "%s/plain", f->dir);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    snprintf(bad, sizeof bad, "%s/sub", file);
    err[0] = 0;
    assert_null(cpm_store_open(bad, 0, NULL, err, sizeof err));
    assert_non_null(strstr(err, "cannot create data directory"));
    assert_non_null(strstr(err, bad));
}

static void test_unknown_db_names(void **state)
{
    fixture_t *f = *state;
    const char *extra[] = {"cases", NULL};
    cpm_store_t *s = open_ok(f->data, 0, extra);
    put_commit(s, "cases", "c", "1");
    MDB_txn *txn;
    const void *v;
    size_t len;
    assert_int_equal(cpm_store_begin(s, true, &txn), 0);
    assert_int_equal(cpm_store_put(s, txn, "nope", "k", 1, "v", 1), CPM_E_INVALID);
    assert_int_equal(cpm_store_get(s, txn, "nope", "k", 1, &v, &len), CPM_E_INVALID);
    assert_int_equal(cpm_store_del(s, txn, "nope", "k", 1), CPM_E_INVALID);
    cpm_store_abort(&txn);
    cpm_store_destroy(&s);

    /* Reopened without "cases": the data stays on disk but is not reachable. */
    s = open_ok(f->data, 0, NULL);
    assert_int_equal(cpm_store_begin(s, false, &txn), 0);
    assert_int_equal(cpm_store_get(s, txn, "cases", "c", 1, &v, &len), CPM_E_INVALID);
    cpm_store_abort(&txn);
    cpm_store_destroy(&s);
    s = open_ok(f->data, 0, extra);
    assert_string_equal(get_str(s, "cases", "c"), "1");

    /* cpm_store_dbi on an unknown name is a bug and aborts. */
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        (void)cpm_store_dbi(s, "nope");
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    cpm_store_destroy(&s);
}

static void test_error_mapping(void **state)
{
    assert_int_equal(cpm_store_err(0), CPM_OK);
    assert_int_equal(cpm_store_err(MDB_MAP_FULL), CPM_E_STORE_FULL);
    assert_int_equal(cpm_store_err(MDB_NOTFOUND), CPM_E_NOT_FOUND);
    assert_int_equal(cpm_store_err(EIO), CPM_E_STORE_IO);
    assert_int_equal(cpm_store_err(ENOSPC), CPM_E_STORE_IO);
    assert_int_equal(cpm_store_err(EROFS), CPM_E_STORE_IO);
    assert_int_equal(cpm_store_err(EDQUOT), CPM_E_STORE_IO);
    assert_int_equal(cpm_store_err(MDB_PANIC), CPM_E_STORE_IO);
    assert_int_equal(cpm_store_err(MDB_CORRUPTED), CPM_E_INTERNAL);
    assert_int_equal(cpm_store_err(MDB_BAD_TXN), CPM_E_INTERNAL);
    assert_int_equal(cpm_store_err(EINVAL), CPM_E_INTERNAL);
    assert_true(cpm_err_retryable(cpm_store_err(MDB_MAP_FULL)));
    assert_true(cpm_err_retryable(cpm_store_err(EIO)));
}

/* Fill a tiny map: the failing transaction must be abortable, invisible
 * afterwards, and must not harm what was committed before. */
static void test_map_full(void **state)
{
    fixture_t *f = *state;
    cpm_store_t *s = open_ok(f->data, 64 * 1024, NULL);
    put_commit(s, "meta", "before", "intact");

    MDB_txn *txn;
    char val[1024];
    memset(val, 'v', sizeof val);
    assert_int_equal(cpm_store_begin(s, true, &txn), 0);
    int rc = 0, i;
    for (i = 0; i < 1000 && rc == 0; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%04d", i);
        rc = cpm_store_put(s, txn, "outbox", key, strlen(key), val, sizeof val);
    }
    assert_true(i > 1); /* some records fitted before the map ran out */
    if (rc == 0) {
        rc = cpm_store_commit(txn); /* the map can also run out at commit */
        txn = NULL;
    } else {
        /* Once LMDB failed a write the transaction can only be aborted. */
        assert_int_equal(cpm_store_put(s, txn, "meta", "x", 1, "y", 1), CPM_E_INTERNAL);
        cpm_store_abort(&txn);
    }
    assert_int_equal(rc, CPM_E_STORE_FULL);
    assert_true(cpm_err_retryable(rc));

    assert_null(get_str(s, "outbox", "k0000"));
    assert_string_equal(get_str(s, "meta", "before"), "intact");
    MDB_stat st;
    assert_int_equal(cpm_store_begin(s, false, &txn), 0);
    assert_int_equal(mdb_stat(txn, cpm_store_dbi(s, "outbox"), &st), 0);
    assert_int_equal(st.ms_entries, 0);
    cpm_store_abort(&txn);

    /* The store still works for writes that fit, also after a reopen. */
    put_commit(s, "meta", "after", "ok");
    cpm_store_destroy(&s);
    s = open_ok(f->data, 64 * 1024, NULL);
    assert_string_equal(get_str(s, "meta", "before"), "intact");
    assert_string_equal(get_str(s, "meta", "after"), "ok");
    assert_null(get_str(s, "outbox", "k0000"));
    cpm_store_destroy(&s);
}

/* Put key n (1500 bytes: two records to a leaf page, so that deleting them
 * copies many pages) in its own commit, if the store admits new work. */
static int put_admitted(cpm_store_t *s, int n)
{
    char key[16], val[1500];
    memset(val, 'h', sizeof val);
    snprintf(key, sizeof key, "k%05d", n);
    MDB_txn *txn;
    assert_int_equal(cpm_store_begin(s, true, &txn), 0);
    int rc = cpm_store_admit(s, txn);
    if (rc == 0)
        rc = cpm_store_put(s, txn, "outbox", key, strlen(key), val, sizeof val);
    if (rc == 0)
        return cpm_store_commit(txn);
    cpm_store_abort(&txn);
    return rc;
}

static size_t used_now(cpm_store_t *s, size_t *map)
{
    MDB_txn *txn;
    size_t used;
    assert_int_equal(cpm_store_begin(s, false, &txn), 0);
    assert_int_equal(cpm_store_usage(s, txn, &used, map), 0);
    cpm_store_abort(&txn);
    return used;
}

/* New work fills the map only to the high-water mark; above it new work is
 * refused (retryable store_full) while deleting everything still commits, and
 * then new work is admitted again. Without the headroom the map fills to its
 * last page and not even a deletion fits. */
static void test_headroom_keeps_deletions_possible(void **state)
{
    fixture_t *f = *state;
    cpm_store_t *s = open_ok(f->data, 1 << 20, NULL);
    int n = 0, rc;
    while ((rc = put_admitted(s, n)) == 0)
        n++;
    assert_int_equal(rc, CPM_E_STORE_FULL);
    assert_true(n > 50);
    size_t map, used = used_now(s, &map);
    assert_int_equal(map, 1 << 20);
    assert_true(used * 100 > map * CPM_STORE_HIGH_WATER_DEFAULT); /* refused above the mark */
    assert_true(used * 100 < map * 90);                           /* and well below the end */
    /* Refused before any write: nothing partial, the same in a fresh txn. */
    assert_int_equal(put_admitted(s, n), CPM_E_STORE_FULL);
    assert_int_equal(put_admitted(s, n + 1), CPM_E_STORE_FULL);
    assert_null(get_str(s, "outbox", "k99999"));

    /* One transaction deletes every record (an ack of the whole outbox) and
     * records a mark: that takes free pages, which the headroom holds. */
    MDB_txn *txn;
    assert_int_equal(cpm_store_begin(s, true, &txn), 0);
    for (int i = 0; i < n; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%05d", i);
        assert_int_equal(cpm_store_del(s, txn, "outbox", key, strlen(key)), 0);
    }
    assert_int_equal(cpm_store_put_u64(s, txn, "outbox.acked:x", (uint64_t)n), 0);
    assert_int_equal(cpm_store_commit(txn), 0);
    assert_true(used_now(s, &map) * 100 < map * 20);
    /* Space is free again: new work is admitted. */
    assert_int_equal(put_admitted(s, n), 0);
    cpm_store_destroy(&s);
}

/* Above the mark the map grows (doubling) up to map_max, never beyond, and
 * the high-water mark is configurable within 10..95%. */
static void test_map_grows_up_to_max(void **state)
{
    fixture_t *f = *state;
    cpm_store_t *s = open_ok(f->data, 1 << 20, NULL);
    int n = 0;
    assert_int_equal(cpm_store_make_room(s), 0); /* below the mark: nothing to do */
    size_t map;
    used_now(s, &map);
    assert_int_equal(map, 1 << 20);
    while (put_admitted(s, n) == 0)
        n++;
    assert_int_equal(cpm_store_make_room(s), 0); /* map_max defaults to the open size */
    used_now(s, &map);
    assert_int_equal(map, 1 << 20);

    cpm_store_set_limits(s, 3 << 20, 0);
    assert_int_equal(cpm_store_make_room(s), 0);
    used_now(s, &map);
    assert_int_equal(map, 2 << 20);
    int before = n;
    while (put_admitted(s, n) == 0)
        n++;
    assert_true(n > before + 50);
    assert_int_equal(cpm_store_make_room(s), 0);
    used_now(s, &map);
    assert_int_equal(map, 3 << 20); /* capped at map_max */
    assert_int_equal(cpm_store_make_room(s), 0);
    used_now(s, &map);
    assert_int_equal(map, 3 << 20);

    /* A lower mark refuses earlier; out-of-range values are ignored. */
    cpm_store_set_limits(s, 0, 5);
    cpm_store_set_limits(s, 0, 99);
    assert_int_equal(put_admitted(s, n++), 0);
    cpm_store_set_limits(s, 0, 10);
    assert_int_equal(put_admitted(s, n), CPM_E_STORE_FULL);
    cpm_store_destroy(&s);
}

/* A map that may grow grows before new work is refused: filled to just
 * below the mark (within a sixteenth of the map), make_room doubles it, so
 * that the requests of the next group do not meet store_full one by one as
 * they cross the mark. A map that may not grow stays, and says nothing. */
static void test_map_grows_before_the_mark(void **state)
{
    fixture_t *f = *state;
    cpm_store_t *s = open_ok(f->data, 1 << 20, NULL);
    size_t map, used = used_now(s, &map);
    int n = 0;
    /* up to the last put that keeps it below the mark minus 1/32 of the map */
    while ((used + map / 32) * 100 < map * CPM_STORE_HIGH_WATER_DEFAULT) {
        assert_int_equal(put_admitted(s, n++), 0);
        used = used_now(s, &map);
    }
    assert_true(used * 100 <= map * CPM_STORE_HIGH_WATER_DEFAULT); /* not above */
    assert_int_equal(cpm_store_make_room(s), 0);                   /* map_max: the open size */
    used_now(s, &map);
    assert_int_equal(map, 1 << 20);
    assert_int_equal(put_admitted(s, n++), 0);

    cpm_store_set_limits(s, 4 << 20, 0);
    assert_int_equal(cpm_store_make_room(s), 0);
    used = used_now(s, &map);
    assert_int_equal(map, 2 << 20);
    /* far below the mark now: nothing more */
    assert_int_equal(cpm_store_make_room(s), 0);
    used_now(s, &map);
    assert_int_equal(map, 2 << 20);
    cpm_store_destroy(&s);
}

/* The size the map grows to: doubled up to map_max and to what the disk
 * allows, in whole pages; near the mark (not above it) only by a sixteenth
 * of the map or more, so that a nearly full disk does not make the map
 * creep a page per group (a remap each time); above it, whatever fits. */
static void test_grow_to(void **state)
{
    (void)state;
    const size_t M = 1 << 20, P = 4096;
    assert_int_equal(store_space_grow_to(M, 8 * M, 100 * M, P, false), 2 * M);
    assert_int_equal(store_space_grow_to(M, 8 * M, 100 * M, P, true), 2 * M);
    assert_int_equal(store_space_grow_to(6 * M, 8 * M, 100 * M, P, true), 8 * M);     /* capped */
    assert_int_equal(store_space_grow_to(8 * M, 8 * M, 100 * M, P, true), 8 * M);     /* at max */
    assert_int_equal(store_space_grow_to(M, 8 * M, M / 4 + 100, P, true), M + M / 4); /* disk */
    assert_int_equal(store_space_grow_to(M, 8 * M, M / 4, P, false), M + M / 4);
    /* the disk nearly full: a page or two more is taken above the mark only */
    assert_int_equal(store_space_grow_to(M, 8 * M, 2 * P, P, true), M + 2 * P);
    assert_int_equal(store_space_grow_to(M, 8 * M, 2 * P, P, false), M);
    assert_int_equal(store_space_grow_to(M, 8 * M, M / 16 - P, P, false), M);
    assert_int_equal(store_space_grow_to(M, 8 * M, M / 16, P, false), M + M / 16);
    assert_int_equal(store_space_grow_to(M, 8 * M, 0, P, true), M); /* no room at all */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_private_dir_and_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_get_del, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_keys_and_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_discards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persists_across_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_u64, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_relaxed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_mismatch_fails_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_garbage_fails_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_open_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_db_names, setup, teardown),
        cmocka_unit_test(test_error_mapping),
        cmocka_unit_test_setup_teardown(test_map_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_headroom_keeps_deletions_possible, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_grows_up_to_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_grows_before_the_mark, setup, teardown),
        cmocka_unit_test(test_grow_to),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
