/* ctl_submit_batch: complaints of `cpmctl submit --file` sent as SubmitBatch
 * requests, each answered whole by a group receipt: one signature verified
 * for every answer of a group commit, each answer with its own proof. */
#include "ctl_submit_batch.h"
#include "cpm_receipt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TRIES 4

typedef struct {
    char msg_id[33];
    size_t idx[CPM_SUBMIT_BATCH_MAX]; /* the complaints it carries, item order */
    size_t n;
    bool used;
} slot_t;

typedef struct {
    ctl_t *c;
    const char *node;
    Cpm__Complaint *const *cs;
    const long *lines;
    size_t n;
    size_t *todo; /* complaints to send, a queue (each at most TRIES times) */
    size_t head, tail;
    int *tries;
    size_t done, *ok, *failed;
    const char *dir;
} run_t;

/* A failure about input lines: with --json, ctl_fail's object plus "line"
 * (one line) or "lines" (several), so a program can tell which complaints
 * it concerns; else ctl_fail's text (its message names them). */
static void fail_lines(const run_t *r, const long *lines, size_t n, const cpm_error_t *e)
{
    if (!r->c->json) {
        ctl_fail(r->c, false, e);
        return;
    }
    json_t *o =
        json_pack("{s:b,s:i,s:s,s:s,s:s}", "ok", 0, "code", e->code, "error", cpm_err_name(e->code),
                  "field", ctl_utf8(e->field), "message", ctl_utf8(e->message));
    if (o && n == 1) {
        json_object_set_new(o, "line", json_integer(lines[0]));
    } else if (o) {
        json_t *a = json_array();
        for (size_t k = 0; k < n; k++)
            json_array_append_new(a, json_integer(lines[k]));
        json_object_set_new(o, "lines", a);
    }
    ctl_print_json(o);
}

static void fail_line(run_t *r, size_t i, int code, const char *field, const char *msg)
{
    cpm_error_t e;
    cpm_error_set(&e, code, field ? field : "", "line %ld: %s", r->lines[i], msg);
    fail_lines(r, &r->lines[i], 1, &e);
    (*r->failed)++;
    r->done++;
}

/* A refused frame (counted by the client): it may have carried the answer
 * of any batch in flight, so it concerns their lines; they stay pending
 * (answered by a later receipt, or sent again on the timeout). */
static void refused_frame(run_t *r, const slot_t *slots, int nslots, const cpm_error_t *err)
{
    long *lines = malloc(((size_t)nslots * CPM_SUBMIT_BATCH_MAX + 1) * sizeof *lines);
    size_t n = 0;
    for (int s = 0; lines && s < nslots; s++)
        for (size_t k = 0; slots[s].used && k < slots[s].n; k++)
            lines[n++] = r->lines[slots[s].idx[k]];
    if (lines)
        fail_lines(r, lines, n, err);
    else
        ctl_fail(r->c, r->c->json, err);
    free(lines);
}

/* Send it again when tries are left, else give up on it with msg. */
static void again(run_t *r, size_t i, int code, const char *field, const char *msg)
{
    if (r->tries[i] < TRIES)
        r->todo[r->tail++] = i;
    else
        fail_line(r, i, code, field, msg);
}

static int send_slot(run_t *r, slot_t *s, int batch)
{
    const Cpm__Complaint *items[CPM_SUBMIT_BATCH_MAX];
    s->n = 0;
    while (s->n < (size_t)batch && r->head < r->tail) {
        size_t i = r->todo[r->head++];
        r->tries[i]++;
        s->idx[s->n] = i;
        items[s->n++] = r->cs[i];
    }
    if (s->n == 0)
        return 0;
    cpm_error_t err = {0};
    if (cpm_client_send_batch(r->c->client, r->node, items, s->n, s->msg_id, NULL, &err) != 0)
        return ctl_fail(r->c, r->c->json, &err), -1;
    s->used = true;
    return 0;
}

/* A ticket as a file name: what intake makes ("HN-2026-000001"), nothing
 * that could leave the folder. */
static bool safe_name(const char *t)
{
    if (!*t || *t == '.' || strlen(t) > 100)
        return false;
    for (; *t; t++)
        if (!((*t >= 'A' && *t <= 'Z') || (*t >= 'a' && *t <= 'z') || (*t >= '0' && *t <= '9') ||
              *t == '-' || *t == '_' || *t == '.'))
            return false;
    return true;
}

/* Keep item k's stand-alone proof as <dir>/<ticket>.receipt, readable by
 * its owner only (it names the complaint's ticket). 0 or -1. */
static int save_proof(const char *dir, const cpm_receipt_t *rc, size_t k, const char *ticket,
                      cpm_error_t *err)
{
    if (!safe_name(ticket))
        return cpm_error_set(err, CPM_E_INVALID, "receipts", "ticket %s is no file name", ticket),
               -1;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (cpm_receipt_proof_frame(rc, k, &buf, &len) != 0)
        return cpm_error_set(err, CPM_E_INTERNAL, "receipts", "cannot make the proof of %s",
                             ticket),
               -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.receipt", dir, ticket);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && fchmod(fd, 0600) == 0 && write(fd, buf, len) == (ssize_t)len;
    int e = errno;
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    free(buf);
    if (!ok)
        return cpm_error_set(err, CPM_E_STORE_IO, "receipts", "%s: %s", path, strerror(e)), -1;
    return 0;
}

/* One leaf of a verified receipt: the answer to complaint i. */
static void on_leaf(run_t *r, size_t i, const cpm_receipt_t *rc, size_t k)
{
    const cpm_receipt_item_t *it = cpm_receipt_at(rc, k);
    if (it->type == CPM__MSG_TYPE__MSG_SUBMIT_REPLY) {
        Cpm__SubmitReply *sr = cpm__submit_reply__unpack(NULL, it->payload_len, it->payload);
        if (!sr) {
            fail_line(r, i, CPM_E_BAD_MESSAGE, "", "undecodable answer in the receipt");
            return;
        }
        ctl_print_ticket(r->c->json, r->lines[i], sr);
        cpm_error_t err = {0};
        if (r->dir && save_proof(r->dir, rc, k, sr->ticket, &err) != 0) {
            char msg[sizeof err.message + 160];
            snprintf(msg, sizeof msg, "recorded as %.100s, but its receipt was not saved: %s",
                     sr->ticket, err.message);
            fail_line(r, i, err.code, err.field, msg);
        } else {
            (*r->ok)++;
            r->done++;
        }
        cpm__submit_reply__free_unpacked(sr, NULL);
        return;
    }
    Cpm__ErrorReply *er = cpm__error_reply__unpack(NULL, it->payload_len, it->payload);
    if (!er) {
        fail_line(r, i, CPM_E_BAD_MESSAGE, "", "undecodable answer in the receipt");
        return;
    }
    int code = er->code ? (int)er->code : CPM_E_INTERNAL;
    if (cpm_err_retryable(code))
        again(r, i, code, er->field, er->message);
    else
        fail_line(r, i, code, er->field, er->message);
    cpm__error_reply__free_unpacked(er, NULL);
}

static slot_t *find_slot(slot_t *slots, int nslots, const char *msg_id)
{
    for (int s = 0; s < nslots; s++)
        if (slots[s].used && strcmp(slots[s].msg_id, msg_id) == 0)
            return &slots[s];
    return NULL;
}

/* A classic answer to a whole batch: a refusal (too many items, busy, a
 * failed group commit). */
static void on_refusal(run_t *r, slot_t *s, const cpm_msg_t *reply)
{
    cpm_error_t err = {0};
    int code = cpm_client_reply_error(reply, &err);
    if (code == 0)
        code = cpm_error_set(&err, CPM_E_BAD_MESSAGE, "reply", "a %s answered a batch",
                             cpm_msg_type_name(reply->env->type));
    for (size_t k = 0; k < s->n; k++) {
        if (cpm_err_retryable(code))
            again(r, s->idx[k], code, err.field, err.message);
        else
            fail_line(r, s->idx[k], code, err.field, err.message);
    }
    s->used = false;
}

int ctl_submit_batches(ctl_t *c, const char *node, Cpm__Complaint *const *cs, const long *lines,
                       size_t n, int batch, int inflight, const char *receipts_dir, size_t *ok,
                       size_t *failed)
{
    run_t r = {c, node, cs, lines, n, NULL, 0, 0, NULL, 0, ok, failed, receipts_dir};
    r.todo = calloc(n * TRIES + 1, sizeof *r.todo);
    r.tries = calloc(n + 1, sizeof *r.tries);
    slot_t *slots = calloc((size_t)inflight, sizeof *slots);
    int rc = (r.todo && r.tries && slots) ? 0 : -1;
    for (size_t i = 0; i < n; i++)
        r.todo[r.tail++] = i;
    while (rc == 0 && r.done < n) {
        for (int s = 0; rc == 0 && s < inflight; s++)
            if (!slots[s].used)
                rc = send_slot(&r, &slots[s], batch);
        if (rc != 0)
            break;
        cpm_msg_t reply = {0};
        cpm_receipt_t *rcp = NULL;
        cpm_error_t err = {0};
        int got = cpm_client_recv_any(c->client, node, "intake", c->timeout_ms, &reply, &rcp, &err);
        if (got == CPM_E_TIMEOUT) { /* send again what is unanswered */
            for (int s = 0; s < inflight; s++) {
                for (size_t k = 0; slots[s].used && k < slots[s].n; k++)
                    again(&r, slots[s].idx[k], CPM_E_TIMEOUT, "", "no answer");
                slots[s].used = false;
            }
            continue;
        }
        if (got != 0) { /* a refused frame (counted by the client); the wait goes on */
            refused_frame(&r, slots, inflight, &err);
            continue;
        }
        if (!rcp) {
            slot_t *s = find_slot(slots, inflight, reply.env->correlation_id);
            if (s)
                on_refusal(&r, s, &reply);
            cpm_msg_clear(&reply);
            continue;
        }
        /* The client matched every item to a batch of ours, each whole. */
        for (size_t k = 0; k < cpm_receipt_count(rcp); k++) {
            const cpm_receipt_item_t *it = cpm_receipt_at(rcp, k);
            slot_t *s = find_slot(slots, inflight, it->correlation_id);
            if (s && it->item < s->n)
                on_leaf(&r, s->idx[it->item], rcp, k);
        }
        for (size_t k = 0; k < cpm_receipt_count(rcp); k++) {
            slot_t *s = find_slot(slots, inflight, cpm_receipt_at(rcp, k)->correlation_id);
            if (s)
                s->used = false;
        }
        cpm_receipt_destroy(&rcp);
    }
    free(r.todo);
    free(r.tries);
    free(slots);
    return rc;
}
