/* routing_list: lists of cases from the register for coordinators and
 * agencies (CaseListQuery -> CaseListReply; `cpmctl cases`).
 *
 * Scope as for status (routing_list_scope): coordinators and the city see
 * every case; members that work cases for an agency see only that agency's;
 * the web gateway sees every case in the public projection (what the public
 * status view shows); anyone else is refused. Pages walk "cases" in ticket order from the
 * cursor; one page holds at most ROUTING_LIST_MAX cases, looks at no more
 * than ROUTING_LIST_SCAN records (next_cursor says where to go on, also when
 * a page is short) and stays under ROUTING_LIST_BYTES packed. No sockets. */
#ifndef ROUTING_LIST_H
#define ROUTING_LIST_H

#include "cpm_err.h"
#include "cpm_store.h"
#include "cpmesh.pb-c.h"

#include <stdint.h>

#define ROUTING_LIST_MAX 500
#define ROUTING_LIST_DEFAULT 100
#define ROUTING_LIST_SCAN 20000
#define ROUTING_LIST_BYTES (1u << 20)

/* Answer q from asker at now_ms: 0 and *out (free with routing_list_free),
 * CPM_E_FORBIDDEN (field "role" or "agency") for an asker outside the
 * scope, CPM_E_INVALID naming the field for a bad query, or a store error. */
int routing_list(cpm_store_t *st, MDB_txn *txn, const Cpm__Member *asker,
                 const Cpm__CaseListQuery *q, int64_t now_ms, Cpm__CaseListReply **out,
                 cpm_error_t *err);
void routing_list_free(Cpm__CaseListReply **p);

/* Who may list what (routing_status.c, beside the status view's rules):
 * 1 every case, 2 only the cases of *agency (the asker's), 3 every case in
 * the public projection (the web gateway), 0 none. */
int routing_list_scope(const Cpm__Member *asker, const char **agency);

#endif
