/* cpm_transport: ZeroMQ sockets with CURVE on every link, and the ZAP
 * authentication handler that admits only transport keys in the registry.
 *
 * A process that binds server sockets creates one cpm_zap_t before binding
 * (libzmq asks the handler at inproc://zeromq.zap.01 about every CURVE
 * handshake) and calls cpm_zap_handle whenever its socket is readable. The
 * handler answers 200 with User-Id = the member id owning the client's key, or
 * 400 for unknown keys and for members whose signing key is revoked. Messages on that link then
 * carry the User-Id, which the verifier compares with the envelope's sender. */
#ifndef CPM_TRANSPORT_H
#define CPM_TRANSPORT_H

#include "cpm_err.h"

#include "cpm_envelope.h"
#include "cpm_keys.h"
#include "cpm_metrics.h"
#include "cpm_registry.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPM_ZAP_DOMAIN "cpmesh"
/* A connection that has not completed the CURVE handshake (and ZAP) within
 * this time is closed, so that idle or slow connections cannot hold a
 * descriptor for long. */
#define CPM_HANDSHAKE_MS 3000
/* Bytes a connection may pin in a socket's queue, each way. High-water marks
 * count messages, so the mark is this over the largest frame: a peer that
 * never reads, or never stops sending, holds at most CPM_SOCK_HWM frames
 * (32 MiB) on its connection; further replies are dropped, a PUB drops
 * publications for a slow subscriber (watchers catch up by fetching). */
#define CPM_SOCK_QUEUE_BYTES (32u << 20)
#define CPM_SOCK_HWM ((int)(CPM_SOCK_QUEUE_BYTES / CPM_MAX_MSG))
/* Replies are smaller: a service's largest (an event batch) stops at
 * CPM_REPLY_BYTES. A ROUTER holds up to CPM_REPLY_HWM replies for one
 * connection (32 MiB), so that a client with 64 requests in flight gets every
 * answer (libzmq frees room in a queue in steps, so twice over and more); replies beyond that are
 * dropped and counted (replies.unroutable). */
#define CPM_REPLY_BYTES (128u << 10)
#define CPM_REPLY_QUEUE_BYTES (32u << 20)
#define CPM_REPLY_HWM ((int)(CPM_REPLY_QUEUE_BYTES / CPM_REPLY_BYTES))

typedef struct cpm_zap cpm_zap_t;

/* Bind the handler in zctx. metrics may be NULL. NULL on failure. */
CPM_MUST_CHECK cpm_zap_t *cpm_zap_new(void *zctx, cpm_metrics_t *metrics);
void cpm_zap_destroy(cpm_zap_t **p);
void *cpm_zap_socket(cpm_zap_t *z);
/* The registry consulted from now on (borrowed; may be swapped at any time
 * between calls to cpm_zap_handle). */
void cpm_zap_set_registry(cpm_zap_t *z, const cpm_registry_t *reg);
/* Answer every pending request without blocking. Returns how many. */
int cpm_zap_handle(cpm_zap_t *z);
/* The member that key may connect as under reg, or NULL when none may: the
 * key is unknown or the member's signing key (or the key itself, read as a
 * key id) is revoked. */
CPM_MUST_CHECK const Cpm__Member *cpm_zap_admits(const cpm_registry_t *reg,
                                                 const uint8_t curve_pk[32]);
/* true when some member admitted under old is not admitted as the same member
 * under new: connections made under old must then be dropped. who (may be
 * NULL) gets the first such member's id. */
CPM_MUST_CHECK bool cpm_zap_lost_access(const cpm_registry_t *old_reg,
                                        const cpm_registry_t *new_reg, char *who, size_t wholen);

/* A CURVE server socket (ROUTER or PUB) bound at endpoint. NULL on failure
 * with the reason logged. */
CPM_MUST_CHECK void *cpm_sock_server(void *zctx, int type, const cpm_identity_t *id,
                                     const char *endpoint);
/* The same without the log line (for a caller that retries). */
CPM_MUST_CHECK void *cpm_sock_server_quiet(void *zctx, int type, const cpm_identity_t *id,
                                           const char *endpoint);
/* A CURVE client socket (DEALER or SUB) connected to endpoint, trusting
 * server_pk. NULL on failure. */
CPM_MUST_CHECK void *cpm_sock_client(void *zctx, int type, const cpm_identity_t *id,
                                     const uint8_t server_pk[32], const char *endpoint);
/* The same with a monitor of its connection events (ZMQ_EVENT_* bits) in
 * *monitor (NULL when it could not be made), attached before the connect: a
 * monitor attached after it can miss the first handshake's events, which
 * libzmq drops while no reader is connected. */
CPM_MUST_CHECK void *cpm_sock_client_monitored(void *zctx, int type, const cpm_identity_t *id,
                                               const uint8_t server_pk[32], const char *endpoint,
                                               int events, void **monitor);
/* Close with linger 0; sets *sock to NULL. */
void cpm_sock_close(void **sock);

/* Watch sock's connection events (ZMQ_EVENT_* bits): returns a socket to
 * read them from with cpm_sock_monitor_event, or NULL. */
CPM_MUST_CHECK void *cpm_sock_monitor(void *zctx, void *sock, int events);
/* The next pending event number, 0 when none is waiting (never blocks). */
int cpm_sock_monitor_event(void *monitor);
/* Stop watching sock and close *monitor (either may be NULL). */
void cpm_sock_monitor_close(void *sock, void **monitor);

/* Receive one message of up to nparts frames without blocking. Frame i goes
 * to parts[i] (zmq_msg_t, initialised by the call). Returns the number of
 * frames, 0 when nothing is waiting, -1 on error, or CPM_SOCK_TOO_MANY_FRAMES
 * when the message had more than nparts frames (all drained and dropped). */
#define CPM_SOCK_TOO_MANY_FRAMES (-2)
CPM_MUST_CHECK int cpm_sock_recv(void *sock, void *parts, int nparts, int flags);

#endif
