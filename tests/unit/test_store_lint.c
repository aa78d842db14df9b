/* Every write to a store goes through cpm_store (docs/operations.md "A
 * store's redo journal"): a journaled store records the keys a transaction
 * wrote from cpm_store's calls, so a direct LMDB write elsewhere would be
 * lost by a power cut or a killed process. This test reads the sources
 * (services/, common/, tools/) and fails on any LMDB write call outside the
 * store's own files, naming the file and line, and on any transaction begun
 * or ended there. Allowed: cpm_runs.c's fault hook, which makes a nested
 * transaction fail on purpose (its delete is refused by LMDB and the child
 * is never committed; its parent, then in error, is undone), and its probe
 * of a parent in error (a child begun and aborted, writing nothing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The writes, and the beginnings and ends of transactions: a journaled
 * store logs a nested transaction's writes and cuts them when it is undone
 * (cpm_store_begin_child, cpm_store_abort), so a child begun or ended by LMDB
 * directly would leave writes in the journal that never happened. */
static const char *const CALLS[] = {"mdb_put(",        "mdb_del(",      "mdb_cursor_put(",
                                    "mdb_cursor_del(", "mdb_drop(",     "mdb_txn_commit(",
                                    "mdb_txn_begin(",  "mdb_txn_abort("};
static const struct {
    const char *file, *call;
} ALLOWED[] = {
    {"common/mesh/cpm_runs.c", "mdb_del("},
    {"common/mesh/cpm_runs.c", "mdb_txn_commit("},
    /* in_error's probe: a child begun and aborted at once, writing nothing */
    {"common/mesh/cpm_runs.c", "mdb_txn_begin("},
    {"common/mesh/cpm_runs.c", "mdb_txn_abort("},
};

static char root[1024];
static int found, files;

static int allowed(const char *rel, const char *call)
{
    if (strncmp(rel, "common/mesh/cpm_store", 21) == 0) /* the store itself */
        return 1;
    for (size_t i = 0; i < sizeof ALLOWED / sizeof ALLOWED[0]; i++)
        if (strcmp(rel, ALLOWED[i].file) == 0 && strcmp(call, ALLOWED[i].call) == 0)
            return 1;
    return 0;
}

/* The call at p is code, not a comment: nothing of a comment before it on
 * its line, and the line not inside a block comment (by its leading '*'). */
static int in_code(const char *line, const char *p)
{
    const char *s = line;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '*' || (s[0] == '/' && (s[1] == '*' || s[1] == '/')))
        return 0;
    for (const char *q = line; q < p; q++)
        if (q[0] == '/' && (q[1] == '*' || q[1] == '/'))
            return 0;
    /* a word character before it: another name (e.g. cpm_store_mdb_put) */
    if (p > line) {
        char c = p[-1];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')
            return 0;
    }
    return 1;
}

static int visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)ftw;
    size_t n = strlen(path);
    if (flag != FTW_F || n < 2 || strcmp(path + n - 2, ".c") != 0)
        return 0;
    const char *rel = path + strlen(root) + 1;
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    files++;
    char line[4096];
    for (int no = 1; fgets(line, sizeof line, f); no++) {
        for (size_t i = 0; i < sizeof CALLS / sizeof CALLS[0]; i++) {
            const char *p = strstr(line, CALLS[i]);
            if (p && in_code(line, p) && !allowed(rel, CALLS[i])) {
                print_message("%s:%d: %s outside cpm_store (use cpm_store_put/del or "
                              "cpm_store_mdb_*, cpm_store_cursor_*, cpm_store_begin*, "
                              "cpm_store_commit, cpm_store_abort)\n",
                              rel, no, CALLS[i]);
                found++;
            }
        }
    }
    fclose(f);
    return 0;
}

static void test_no_lmdb_write_outside_the_store(void **state)
{
    (void)state;
    const char *src = getenv("CPM_SOURCE_DIR");
    snprintf(root, sizeof root, "%s", src ? src : ".");
    static const char *const dirs[] = {"services", "common", "tools"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char d[1100];
        snprintf(d, sizeof d, "%s/%s", root, dirs[i]);
        assert_int_equal(nftw(d, visit, 16, FTW_PHYS), 0);
    }
    assert_true(files > 100); /* it read the tree, not an empty folder */
    assert_int_equal(found, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_lmdb_write_outside_the_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
