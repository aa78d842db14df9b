/* cpm_xevidence: verify an evidence file offline. See cpm_xevidence.h. */
#include "cpm_xevidence.h"

#include "cpm_pbcheck.h"
#include "cpm_registry.h"
#include "cpm_util.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *buf;
    size_t len, cap;
} text_t;

static void say(text_t *t, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line)
        n = sizeof line - 1;
    if (t->len + (size_t)n + 2 > t->cap) {
        size_t cap = (t->cap + (size_t)n + 2) * 2;
        char *b = realloc(t->buf, cap);
        if (!b)
            return;
        t->buf = b;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, line, (size_t)n);
    t->len += (size_t)n;
    t->buf[t->len++] = '\n';
    t->buf[t->len] = 0;
}

/* A signed frame kept in the entry, verified at its own sent_ms. */
static int check_frame(const cpm_registry_t *reg, const ProtobufCBinaryData *f, uint64_t seq,
                       const char *what, const Cpm__Member **signer, cpm_envelope_view_t *view,
                       cpm_xlog_problem_t *p)
{
    cpm_key_standing_t standing;
    cpm_verdict_t v = cpm_verify_signed_at(reg, f->data, f->len, 0, signer, &standing);
    cpm_slice_t envb, sig;
    if (v != CPM_V_OK)
        return cpm_xlog_problem(p, seq, "entry %llu: the %s's signature is refused (%s)",
                                (unsigned long long)seq, what, cpm_verdict_name(v));
    if (cpm_envelope_parse_signed(f->data, f->len, &envb, &sig) != 0 ||
        cpm_envelope_parse_view(envb.data, envb.len, view) != 0)
        return cpm_xlog_problem(p, seq, "entry %llu: the %s is not a signed envelope",
                                (unsigned long long)seq, what);
    return 0;
}

static bool same(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static bool same_slice(const char *a, cpm_slice_t b)
{
    return a && strlen(a) == b.len && memcmp(a, b.data, b.len) == 0;
}

/* A query entry proves an exchange only when everything in it agrees: the
 * request is a query for the entry's dataset, signed by the requester the
 * answer names, and the answer is the publisher's answer to exactly that
 * request (its hash and msg_id), for that dataset, at this log position. */
static int check_answer(const Cpm__LogEntry *e, const char *agency, const Cpm__Member *rq,
                        const cpm_envelope_view_t *rv, const cpm_envelope_view_t *sv, text_t *t,
                        cpm_xlog_problem_t *p)
{
    uint64_t seq = e->seq;
    if (!rq || rv->type != CPM__MSG_TYPE__MSG_EXCHANGE_QUERY)
        return cpm_xlog_problem(p, seq,
                                "entry %llu: a query entry whose request is not a signed query",
                                (unsigned long long)seq);
    if (sv->type != CPM__MSG_TYPE__MSG_EXCHANGE_ANSWER_SIGNED)
        return cpm_xlog_problem(p, seq,
                                "entry %llu: a query entry whose response is not a signed answer",
                                (unsigned long long)seq);
    Cpm__ExchangeQuery *q = cpm__exchange_query__unpack(cpm_pb_budget(rv->payload.len),
                                                        rv->payload.len, rv->payload.data);
    Cpm__ExchangeAnswer *a = cpm__exchange_answer__unpack(cpm_pb_budget(sv->payload.len),
                                                          sv->payload.len, sv->payload.data);
    uint8_t h[32];
    crypto_hash_sha256(h, e->request.data, e->request.len);
    const char *wrong = !q || !a ? "does not decode"
                        : !(a->request_hash.len == 32 && !memcmp(a->request_hash.data, h, 32))
                            ? "is not bound to the request's hash"
                        : !same_slice(a->request_id, rv->msg_id) ? "names another request id"
                        : !same(a->requester, rq->id)            ? "names another requester"
                        : !same(a->publisher, agency)            ? "names another publisher"
                        : !same(a->dataset, q->dataset) || !same(a->dataset, e->dataset)
                            ? "is for another dataset than the request or the entry"
                        : a->log_seq != seq ? "names another log entry"
                                            : NULL;
    if (!wrong)
        say(t, "response:  %s answered %s: %zu record(s)%s%s; bound to the request's hash", agency,
            a->dataset, a->n_records, a->refused_code ? ", refused " : "",
            a->refused_code ? a->refused_field : "");
    if (q)
        cpm__exchange_query__free_unpacked(q, NULL);
    if (a)
        cpm__exchange_answer__free_unpacked(a, NULL);
    if (wrong)
        return cpm_xlog_problem(p, seq, "entry %llu: the answer %s", (unsigned long long)seq,
                                wrong);
    return 0;
}

static int check_entry(const cpm_registry_t *reg, const Cpm__LogEntry *e, const char *agency,
                       text_t *t, cpm_xlog_problem_t *p)
{
    char when[40];
    const Cpm__Member *rq = NULL, *rs = NULL;
    cpm_envelope_view_t rv = {0}, sv = {0};
    uint64_t seq = e->seq;
    if (e->request.len) {
        if (check_frame(reg, &e->request, seq, "request", &rq, &rv, p) != 0)
            return -1;
        if (e->peer && e->peer[0] && strcmp(rq->id, e->peer) != 0 &&
            strcmp(rq->agency, e->peer) != 0)
            return cpm_xlog_problem(p, seq,
                                    "entry %llu: the request is signed by %s, not the peer %s",
                                    (unsigned long long)seq, rq->id, e->peer);
        cpm_format_time_vn(rv.sent_ms, when, sizeof when);
        say(t, "request:   %s signed by %s (agency %s) at %s, signature valid",
            cpm_msg_type_name((int)rv.type) ? cpm_msg_type_name((int)rv.type) : "?", rq->id,
            rq->agency, when);
    }
    bool is_query = strcmp(e->kind, "query") == 0;
    if (is_query && !e->request.len)
        return cpm_xlog_problem(p, seq, "entry %llu: a query entry without its signed request",
                                (unsigned long long)seq);
    if (is_query || strcmp(e->kind, "checkpoint") == 0) {
        if (!e->response.len)
            return cpm_xlog_problem(p, seq, "entry %llu: a %s entry without its signed response",
                                    (unsigned long long)seq, e->kind);
        if (check_frame(reg, &e->response, seq, "response", &rs, &sv, p) != 0)
            return -1;
        if (strcmp(rs->id, agency) != 0)
            return cpm_xlog_problem(p, seq,
                                    "entry %llu: the response is signed by %s, not the agency %s",
                                    (unsigned long long)seq, rs->id, agency);
        if (is_query) {
            if (check_answer(e, agency, rq, &rv, &sv, t, p) != 0)
                return -1;
        } else if (sv.type != CPM__MSG_TYPE__MSG_EXCHANGE_CHECKPOINT) {
            return cpm_xlog_problem(
                p, seq, "entry %llu: a checkpoint entry whose response is not a checkpoint",
                (unsigned long long)seq);
        } else {
            say(t, "response:  checkpoint frame signed by %s", rs->id);
        }
    } else if (strcmp(e->kind, "cosign") == 0) {
        Cpm__CosignRequest *cr = cpm__cosign_request__unpack(cpm_pb_budget(rv.payload.len),
                                                             rv.payload.len, rv.payload.data);
        Cpm__Cosignature *c = cpm__cosignature__unpack(cpm_pb_budget(e->response.len),
                                                       e->response.len, e->response.data);
        int rc =
            cr && c && strcmp(c->cosigner, agency) == 0
                ? cpm_xcosign_verify(reg, c, NULL, cr->checkpoint.data, cr->checkpoint.len, seq, p)
                : cpm_xlog_problem(p, seq, "entry %llu: a cosign entry without its cosignature",
                                   (unsigned long long)seq);
        if (rc == 0)
            say(t, "response:  cosignature by %s, valid", agency);
        if (cr)
            cpm__cosign_request__free_unpacked(cr, NULL);
        if (c)
            cpm__cosignature__free_unpacked(c, NULL);
        if (rc != 0)
            return -1;
    } else if (e->response.len) {
        say(t, "response:  %zu bytes (%s), covered by the agency's checkpoint", e->response.len,
            e->kind);
    }
    return 0;
}

int cpm_xevidence_verify(const uint8_t *buf, size_t len, const uint8_t root_pk[32], char **summary,
                         cpm_xlog_problem_t *p)
{
    *summary = NULL;
    if (len > CPM_XEVIDENCE_MAX)
        return cpm_xlog_problem(p, 0, "evidence: %zu bytes, over %u", len, CPM_XEVIDENCE_MAX);
    Cpm__ExchangeEvidence *ev = cpm__exchange_evidence__unpack(cpm_pb_budget(len), len, buf);
    if (!ev)
        return cpm_xlog_problem(p, 0, "evidence: not an ExchangeEvidence");
    int rc = -1;
    text_t t = {0};
    char err[256] = "", when[40];
    cpm_registry_t *reg = NULL;
    Cpm__LogEntry *e = NULL;
    Cpm__Checkpoint *cp = NULL;
    const Cpm__LogRecord *r = ev->record;
    /* a byte changed in a tag turns a field into an unknown one: refused,
     * so that no part (a cosignature) silently drops out */
    bool unknown = ev->base.n_unknown_fields || (r && r->base.n_unknown_fields) ||
                   (ev->checkpoint && ev->checkpoint->base.n_unknown_fields);
    for (size_t i = 0; ev->checkpoint && i < ev->checkpoint->n_cosignatures; i++)
        unknown = unknown || ev->checkpoint->cosignatures[i]->base.n_unknown_fields;
    if (unknown) {
        cpm_xlog_problem(p, 0, "evidence: a field this reader does not know (a changed byte?)");
        goto out;
    }
    if (ev->version != CPM_XEVIDENCE_VERSION) {
        cpm_xlog_problem(p, 0, "evidence: version %u (this reader knows %d)", ev->version,
                         CPM_XEVIDENCE_VERSION);
        goto out;
    }
    reg = cpm_registry_from_signed(ev->signed_registry.data, ev->signed_registry.len, root_pk, err,
                                   sizeof err);
    if (!reg) {
        cpm_xlog_problem(p, 0, "evidence: signed_registry refused: %s", err);
        goto out;
    }
    if (!r || !ev->checkpoint) {
        cpm_xlog_problem(p, 0, "evidence: record and checkpoint are required");
        goto out;
    }
    e = cpm__log_entry__unpack(cpm_pb_budget(r->body.len), r->body.len, r->body.data);
    if (!e) {
        cpm_xlog_problem(p, 0, "evidence: the record's body is not a log entry (a changed byte)");
        goto out;
    }
    cpm_xlog_head_t h = {0, {0}, true};
    Cpm__LogRecord *one[1] = {(Cpm__LogRecord *)r};
    if (cpm_xlog_verify_run(one, 1, &h, p) != 0)
        goto out;
    if (cpm_xcheckpoint_verify_signed(reg, ev->checkpoint, &cp, p) != 0)
        goto out;
    uint8_t cur[32];
    memcpy(cur, h.hash, 32);
    for (size_t i = 0; i < ev->n_next_content_hashes; i++) {
        if (ev->next_content_hashes[i].len != 32) {
            cpm_xlog_problem(p, e->seq + 1 + i, "evidence: content hash %zu is not 32 bytes", i);
            goto out;
        }
        cpm_xlog_link(cur, ev->next_content_hashes[i].data, cur);
    }
    if (cp->seq != e->seq + ev->n_next_content_hashes || memcmp(cur, cp->head_hash.data, 32) != 0) {
        cpm_xlog_problem(
            p, e->seq,
            "entry %llu does not link to checkpoint %llu's head through the %zu content hashes",
            (unsigned long long)e->seq, (unsigned long long)cp->seq, ev->n_next_content_hashes);
        goto out;
    }
    cpm_format_time_vn(e->at_ms, when, sizeof when);
    say(&t, "entry:     %llu of %s's exchange log, kind %s%s%s, peer %s, at %s",
        (unsigned long long)e->seq, cp->agency, e->kind, e->dataset[0] ? ", dataset " : "",
        e->dataset, e->peer, when);
    if (check_entry(reg, e, cp->agency, &t, p) != 0)
        goto out;
    cpm_format_time_vn(cp->at_ms, when, sizeof when);
    say(&t, "checkpoint: seq %llu signed by %s at %s; the entry links to its head",
        (unsigned long long)cp->seq, cp->agency, when);
    for (size_t i = 0; i < ev->checkpoint->n_cosignatures; i++) {
        cpm_format_time_vn(ev->checkpoint->cosignatures[i]->at_ms, when, sizeof when);
        say(&t, "cosigned:  by %s at %s, valid", ev->checkpoint->cosignatures[i]->cosigner, when);
    }
    if (ev->checkpoint->n_cosignatures == 0)
        say(&t, "cosigned:  by no peer (the checkpoint alone does not prove its time)");
    say(&t, "registry:  version %llu, signed by the root key",
        (unsigned long long)cpm_registry_version(reg));
    rc = 0;
    *summary = t.buf;
    t.buf = NULL;
out:
    free(t.buf);
    if (e)
        cpm__log_entry__free_unpacked(e, NULL);
    if (cp)
        cpm__checkpoint__free_unpacked(cp, NULL);
    cpm_registry_destroy(&reg);
    cpm__exchange_evidence__free_unpacked(ev, NULL);
    return rc;
}
