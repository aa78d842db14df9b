/* cpm_store_int: the store's state, shared by cpm_store.c (open, transactions,
 * key/value helpers) and cpm_store_space.c (headroom and map growth).
 * Internal: nothing outside these two files includes it. */
#ifndef CPM_STORE_INT_H
#define CPM_STORE_INT_H

#include "cpm_store.h"

#define STORE_DB_NAME_MAX 63

typedef struct {
    char name[STORE_DB_NAME_MAX + 1];
    MDB_dbi dbi;
} store_db_t;

struct cpm_store {
    MDB_env *env;
    char *dir;
    size_t map_max;          /* the map may grow up to this many bytes */
    unsigned high_water_pct; /* new work stops above this share of the map */
    int refusing;            /* above the mark at the last check (to log changes once) */
    int grow_warned;         /* said once that the map cannot grow */
    size_t ndbs;
    store_db_t dbs[]; /* a handful: a linear scan beats hashing */
};

#endif
