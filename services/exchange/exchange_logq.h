/* exchange_logq: reading the proof log (MSG_EXCHANGE_LOG_QUERY).
 *
 * Who may read: the agency's own people (Member.agency == this node) and
 * coordinators (role "coordinator") of any agency; everyone else is refused
 * (403, counted exchange.logq_forbidden). A page holds at most
 * EXCHANGE_LOGQ_MAX records and about EXCHANGE_LOGQ_BYTES bytes, with the
 * signed checkpoints at or after its first record up to the first one
 * covering its last. evidence_seq asks for one entry's evidence instead
 * (docs/protocol.md 19.6); an entry no checkpoint covers yet is refused with
 * 409 "not yet checkpointed" (ask again after the next checkpoint). */
#ifndef EXCHANGE_LOGQ_H
#define EXCHANGE_LOGQ_H

#include "cpm_err.h"
#include "cpm_store.h"
#include "exchange.pb-c.h"
#include "exchange_domain.h"

#define EXCHANGE_LOGQ_MAX 256
#define EXCHANGE_LOGQ_BYTES (96u << 10) /* under the reply size the queues are sized for */
#define EXCHANGE_EVIDENCE_HASHES_MAX 60000

/* registry_path: the signed registry file put into evidence. On 0 *out
 * holds allocated parts: free them with exchange_logq_free. */
CPM_MUST_CHECK int exchange_logq(const exchange_t *x, cpm_store_t *st, MDB_txn *txn,
                                 const char *registry_path, const char *agency, const char *role,
                                 const Cpm__ExchangeLogQuery *q, Cpm__ExchangeLogReply *out,
                                 cpm_error_t *err);
void exchange_logq_free(Cpm__ExchangeLogReply *r);

#endif
