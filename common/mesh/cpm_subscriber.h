/* cpm_subscriber: every service's event stream, in order, none lost or
 * repeated, each event checked against its service's hash chain.
 *
 * Sources are the member services of the registry that have a pub endpoint
 * (narrowed by the filter's node and service). For each source the
 * subscriber keeps a cursor (last seq delivered and its hash), persisted in
 * its own LMDB store when cursor_dir is given, so that a restarted
 * subscriber resumes where it stopped. Publications arrive on a CURVE SUB
 * socket per source and are verified (signed by the source member); after a
 * gap (a missed publication, a restart of either side) the missing events
 * are fetched with EventsFetch through a cpm_client. Every event is checked
 * with cpm_eventlog_verify_chain from the cursor's hash; an event that does
 * not link is refused (not delivered, cursor not moved) unless
 * accept_broken is set, when it is delivered with chain_ok false.
 *
 * Ownership: zctx, reg, id and client are borrowed and must outlive the
 * subscriber; the filter's strings are copied. Events passed to on_event are
 * valid only during the call. Functions return 0 (or a count) or a cpm_err_t
 * code with err filled. One thread per subscriber. */
#ifndef CPM_SUBSCRIBER_H
#define CPM_SUBSCRIBER_H

#include "cpm_client.h"
#include "cpm_err.h"
#include "cpm_keys.h"
#include "cpm_registry.h"
#include "cpmesh.pb-c.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct cpm_subscriber cpm_subscriber_t;

/* Which events are delivered; NULL or "" matches everything. node and
 * service also narrow the sources. A small struct so that typed event fields
 * can be added as further members. */
typedef struct {
    const char *node;
    const char *service;
    const char *kind_prefix;
    /* The typed fields (equal; NULL/"" or 0: any). With any of kind_prefix,
     * agency, area, category or state set, fetches are filtered at the source
     * (docs/protocol.md section 20) and checked with the skipped events'
     * hashes and the range's checkpoints; live publications are filtered
     * here. */
    const char *agency;
    const char *area;
    const char *category;
    Cpm__CaseState state;
} cpm_sub_filter_t;

/* Things worth telling a user about a source, as they change. */
typedef enum {
    CPM_SUB_UNREACHABLE = 1, /* a fetch failed (told once until it answers again) */
    CPM_SUB_REACHABLE,       /* it answers again */
    CPM_SUB_REFUSED_PUB,     /* a publication failed verification */
    CPM_SUB_BROKEN_CHAIN,    /* an event did not link to the chain (refused) */
    CPM_SUB_CURSOR_SAVE,     /* the cursor could not be saved */
} cpm_sub_notice_t;

typedef struct {
    const char *cursor_dir; /* LMDB store of the cursor; NULL: none kept */
    bool from_start;        /* ignore the stored cursor */
    uint64_t start_seq;     /* without a stored cursor, begin here (0 or 1: the start) */
    bool fetch_only;        /* no SUB sockets; node+service name the one source even when
                               the registry lacks it (the fetch then reports it) */
    bool accept_broken;     /* deliver events off the chain, with chain_ok false */
    bool caller_saves;      /* never save the cursor by itself (poll, sweep, destroy): the
                               caller does, with cpm_subscriber_save_with, together with what
                               it made of the events (one commit per batch, not per event) */
    int fetch_timeout_ms;   /* per EventsFetch (0: 2000) */
    cpm_sub_filter_t filter;
    /* Called for each delivered event in order; the cursor moves past it. */
    void (*on_event)(void *arg, const char *node, const char *service, const Cpm__Event *ev,
                     bool chain_ok);
    /* May be NULL. detail is a sentence or "". */
    void (*on_notice)(void *arg, const char *node, const char *service, cpm_sub_notice_t what,
                      const char *detail);
    void *arg;
} cpm_sub_opts_t;

CPM_MUST_CHECK int cpm_subscriber_new(cpm_subscriber_t **out, void *zctx, const cpm_registry_t *reg,
                                      const cpm_identity_t *id, cpm_client_t *client,
                                      const cpm_sub_opts_t *o, cpm_error_t *err);
/* Saves the cursor and closes the sockets; sets *p to NULL. */
void cpm_subscriber_destroy(cpm_subscriber_t **p);

/* Fetch what every source has after its cursor, delivering at most budget
 * events (0: no limit). Returns how many were delivered; *failed (may be
 * NULL) gets how many sources could not be read. Saves the cursor. */
long cpm_subscriber_sweep(cpm_subscriber_t *s, long budget, int *failed);
/* Wait up to timeout_ms for publications and deliver what follows each
 * cursor, fetching across gaps. Returns how many were delivered. Saves the
 * cursor when something was. */
long cpm_subscriber_poll(cpm_subscriber_t *s, int timeout_ms, long budget);
/* Persist the cursor now. 0 or a store code. */
CPM_MUST_CHECK int cpm_subscriber_save(cpm_subscriber_t *s);
/* The cursor of node/service: last seq delivered (0 when none or unknown). */
uint64_t cpm_subscriber_cursor(const cpm_subscriber_t *s, const char *node, const char *service);
/* Set the cursor of node/service (a known source): the next event
 * delivered is seq + 1, checked against hash (NULL: trust its prev_hash).
 * For importing a cursor kept elsewhere. 0 or CPM_E_NOT_FOUND. */
CPM_MUST_CHECK int cpm_subscriber_seek(cpm_subscriber_t *s, const char *node, const char *service,
                                       uint64_t seq, const uint8_t hash[32]);
/* Events refused so far (broken chain, refused publications). */
uint64_t cpm_subscriber_refused(const cpm_subscriber_t *s);

/* Signed checkpoints (docs/protocol.md section 20). Every fetch asks for the
 * checkpoints of what it reads, and checkpoints arrive on the live stream;
 * each is checked against the signer's key in the registry and against the
 * chain the subscriber holds. One that does not match is told as
 * CPM_SUB_BROKEN_CHAIN with a detail naming the checkpoint, counted in
 * cpm_subscriber_refused, and the events it covers in that reply are refused
 * (or delivered with chain_ok false under accept_broken). */
/* The highest seq of node/service that a checkpoint proved (0: none yet):
 * every event delivered up to it is what the service signed. A signed head
 * proves the events before it only when every hash from the last proven
 * seq up to it was rebuilt from its event or covered by a checked range
 * digest: after a filtered reply's skipped hashes (the source's claim) that
 * no digest covered, proven stays below them (kept with the cursor). */
uint64_t cpm_subscriber_proven(const cpm_subscriber_t *s, const char *node, const char *service);
/* Checkpoints verified so far, and found wrong (bad signature, other hash). */
uint64_t cpm_subscriber_checkpoints(const cpm_subscriber_t *s, uint64_t *bad);

/* Save the cursor together with one value of the caller's (key must not
 * contain '/'), in the same transaction: a consumer that writes its output
 * elsewhere keeps where its output ended with the cursor (cpmctl watch --out
 * keeps the file's size). 0 or a store code. */
CPM_MUST_CHECK int cpm_subscriber_save_with(cpm_subscriber_t *s, const char *key, const void *val,
                                            size_t len);
/* Read that value back: its length (at most cap bytes copied), or -1 when
 * none is kept. */
long cpm_subscriber_load_extra(cpm_subscriber_t *s, const char *key, void *buf, size_t cap);

#endif
