/* cpm_runs_int: cpm_runs' fault hook, for tests only (off unless armed).
 * Internal: the library's own sources and the unit tests of cpm_runs and
 * its callers include it (tests by its path); no service does.
 *
 * The nth child begin or commit of cpm_runs from now, on any thread, fails
 * as a store that cannot:
 *   - CPM_RUNS_AT_BEGIN: the child does not begin; fails with rc;
 *   - CPM_RUNS_AT_COMMIT: the child is aborted, as LMDB does with a child
 *     whose commit fails early, the parent left as it was; fails with rc;
 *   - CPM_RUNS_AT_COMMIT_POISON: the child's commit fails and leaves the
 *     parent in error (MDB_TXN_ERROR), as LMDB does after some failures
 *     (mdb_txn_commit: "Failures after this must either undo the changes to
 *     the parent or set MDB_TXN_ERROR in the parent"): the child is put in
 *     error for real (a delete LMDB refuses, MDB_INCOMPATIBLE: the main
 *     database's record of a named one) and committed, which fails with
 *     MDB_BAD_TXN and marks the parent; fails with rc. The store must hold
 *     at least one named database (every cpm_store does).
 * n == 0 disarms. */
#ifndef CPM_RUNS_INT_H
#define CPM_RUNS_INT_H

typedef enum { CPM_RUNS_AT_BEGIN, CPM_RUNS_AT_COMMIT, CPM_RUNS_AT_COMMIT_POISON } cpm_runs_at_t;

void cpm_runs_fault_arm(cpm_runs_at_t at, unsigned n, int rc);

#endif
