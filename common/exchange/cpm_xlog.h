/* cpm_xlog: the exchange's proof log, as bytes anyone can check.
 *
 * Each entry is a LogRecord (proto/exchange.proto): the serialized LogEntry
 * (body), the previous entry's hash and its own:
 *   content = SHA-256(body)
 *   hash    = SHA-256("CPMESH-XLOG-V1\0" || prev_hash || content)
 * so that an entry is linked to a later checkpoint by the content hashes of
 * the entries between them alone (docs/protocol.md 19.5). Pure functions: no
 * store, no sockets (the service keeps the log, cpmctl verifies it offline). */
#ifndef CPM_XLOG_H
#define CPM_XLOG_H

#include <stddef.h>
#include <stdint.h>

#define CPM_XLOG_DOMAIN "CPMESH-XLOG-V1"

/* SHA-256(body). */
void cpm_xlog_content(const uint8_t *body, size_t len, uint8_t content[32]);
/* The entry hash from its predecessor's hash and its content hash. */
void cpm_xlog_link(const uint8_t prev[32], const uint8_t content[32], uint8_t out[32]);

#endif
