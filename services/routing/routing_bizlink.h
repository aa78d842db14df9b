/* routing_bizlink: which business a complaint counts for when names and
 * addresses disagree, so that complaints about one shop from different
 * channels (a web form with the name and the address, a hotline note with
 * only the address, a letter with the name and its legal forms) land in one
 * cluster.
 *
 * Database "clusters.alias": k -> b (32 hex) + the ms it was set (8 bytes
 * BE), where k is an exact address's key (cpm_bizkey_t.addr_key: the
 * business last seen at that address in that area) or a name's key linked
 * to the cluster stored under its legacy key (the name with its legal
 * forms). Written only when k is new or leads to another business: when it
 * was last used is kept next to b in "clusters" (b "/a" k,
 * routing_clusters.h), on the leaf that the complaint writes anyway (before,
 * every complaint rewrote the alias: a page of its own, copied, written and
 * synced, per complaint in a large store). An alias without that time (a
 * store written before) was last used at the time it holds.
 * Precedence, for a complaint with name key n (or none) and exact address
 * key a (or none):
 *   1. a named complaint counts for its name: n's link to a stored legacy
 *      cluster when there is one, else n itself; never for the business
 *      seen at its address (a new shop in the same premises, or a wrong
 *      house number, would merge its later complaints into the other's);
 *   2. a complaint with no name counts for the business last seen at a
 *      (a hotline note with only the address);
 *   3. otherwise its own key (the address's).
 * Then a -> the business chosen (last seen there). Entries not seen for the
 * clusters window are swept. No sockets. */
#ifndef ROUTING_BIZLINK_H
#define ROUTING_BIZLINK_H

#include "cpm_bizkey.h"
#include "cpm_store.h"
#include "cpm_sweep.h"

#include <stddef.h>
#include <stdint.h>

#define ROUTING_BIZLINK_DB "clusters.alias"

/* The business bk counts for (32 hex digits into bid), recording the
 * address and name aliases at at_ms. 0 or a store error. */
int routing_bizlink_resolve(cpm_store_t *st, MDB_txn *txn, const cpm_bizkey_t *bk, int64_t at_ms,
                            char bid[CPM_BIZKEY_HEX]);

/* One bounded retention step: at most max aliases looked at, those last
 * seen before now_ms - window_ms deleted (*deleted counts them). */
int routing_bizlink_sweep(cpm_store_t *st, MDB_txn *txn, int64_t now_ms, int64_t window_ms,
                          size_t max, cpm_sweep_cursor_t *cur, size_t *deleted);

#endif
