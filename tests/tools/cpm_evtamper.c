/* cpm_evtamper: edits a stopped service's event log the way someone with
 * the disk could, so that tests show each edit is detected
 * (test_stream_proof.py):
 *
 *   cpm_evtamper --data-dir DIR --edit SEQ --note TEXT   change an event's note, its
 *                                                        stored hash left as it was
 *   cpm_evtamper --data-dir DIR --edit SEQ --note TEXT --rehash
 *                                                        ... and recompute the chain from
 *                                                        it to the head (a careful forger)
 *   cpm_evtamper --data-dir DIR --remove SEQ             remove an event, renumber the rest
 *                                                        and recompute the chain
 *   cpm_evtamper --data-dir DIR --forge-checkpoints      re-sign every checkpoint over the
 *                                                        log as it is now, with a new key
 *
 * Exit 0, 1 on failure, 2 on bad usage. */
#include "cpm_envelope.h"
#include "cpm_evcheck.h"
#include "cpm_eventlog.h"
#include "cpm_keys.h"
#include "cpm_store.h"
#include "cpm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int put_event(cpm_store_t *st, MDB_txn *txn, Cpm__Event *ev)
{
    uint8_t key[8];
    cpm_put_be64(key, ev->seq);
    size_t len = cpm__event__get_packed_size(ev);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return -1;
    cpm__event__pack(ev, buf);
    int rc = cpm_store_put(st, txn, CPM_DB_EVENTS, key, 8, buf, len);
    free(buf);
    return rc;
}

/* Recompute every hash from seq `from` to head, each linked to the one
 * before, and the meta head hash. */
static int rehash(cpm_store_t *st, MDB_txn *txn, uint64_t from, uint64_t head)
{
    uint8_t prev[32] = {0};
    if (from > 1) {
        Cpm__Event **evs = NULL;
        size_t n = 0;
        if (cpm_eventlog_read(st, txn, from - 1, 1, &evs, &n) != 0 || n != 1)
            return -1;
        memcpy(prev, evs[0]->hash.data, 32);
        cpm_eventlog_free(&evs, n);
    }
    for (uint64_t seq = from; seq <= head; seq++) {
        Cpm__Event **evs = NULL;
        size_t n = 0;
        if (cpm_eventlog_read(st, txn, seq, 1, &evs, &n) != 0 || n != 1)
            return -1;
        uint8_t h[32];
        cpm_event_hash(evs[0], prev, h);
        memcpy(evs[0]->prev_hash.data, prev, 32);
        memcpy(evs[0]->hash.data, h, 32);
        memcpy(prev, h, 32);
        int rc = put_event(st, txn, evs[0]);
        cpm_eventlog_free(&evs, n);
        if (rc != 0)
            return -1;
    }
    return cpm_store_put_u64(st, txn, "events.head", head) ||
                   cpm_store_put(st, txn, CPM_DB_META, "events.hash", 11, prev, 32)
               ? -1
               : 0;
}

static int edit(cpm_store_t *st, MDB_txn *txn, uint64_t seq, const char *note, bool re)
{
    Cpm__Event **evs = NULL;
    size_t n = 0;
    uint64_t head;
    if (cpm_eventlog_head(st, txn, &head, NULL) != 0 ||
        cpm_eventlog_read(st, txn, seq, 1, &evs, &n) != 0 || n != 1 || evs[0]->seq != seq) {
        fprintf(stderr, "cpm_evtamper: no event %llu\n", (unsigned long long)seq);
        return -1;
    }
    char *was = evs[0]->note; /* put back before the event is freed */
    evs[0]->note = (char *)note;
    int rc = put_event(st, txn, evs[0]);
    evs[0]->note = was;
    cpm_eventlog_free(&evs, n);
    return rc != 0 ? -1 : re ? rehash(st, txn, seq, head) : 0;
}

static int remove_event(cpm_store_t *st, MDB_txn *txn, uint64_t seq)
{
    uint64_t head;
    if (cpm_eventlog_head(st, txn, &head, NULL) != 0 || seq == 0 || seq > head)
        return -1;
    for (uint64_t s = seq + 1; s <= head; s++) {
        Cpm__Event **evs = NULL;
        size_t n = 0;
        if (cpm_eventlog_read(st, txn, s, 1, &evs, &n) != 0 || n != 1)
            return -1;
        evs[0]->seq = s - 1;
        int rc = put_event(st, txn, evs[0]);
        cpm_eventlog_free(&evs, n);
        if (rc != 0)
            return -1;
    }
    uint8_t key[8];
    cpm_put_be64(key, head);
    if (cpm_store_del(st, txn, CPM_DB_EVENTS, key, 8) != 0)
        return -1;
    return seq <= head - 1 ? rehash(st, txn, seq, head - 1) : 0;
}

/* Every kept checkpoint made again over the log as it is, signed with a
 * fresh key under the node's name. */
static int forge(cpm_store_t *st, MDB_txn *txn)
{
    ProtobufCBinaryData *frames = NULL;
    size_t n = 0;
    if (cpm_evcheck_list(st, txn, 1, UINT64_MAX, 100000, &frames, &n) != 0 || n == 0) {
        fprintf(stderr, "cpm_evtamper: no checkpoints kept\n");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        /* The frame's payload, read without its (real) signature. */
        cpm_slice_t env, sig;
        cpm_envelope_view_t v;
        Cpm__EventCheckpoint *p = NULL;
        if (cpm_envelope_parse_signed(frames[i].data, frames[i].len, &env, &sig) != 0 ||
            cpm_envelope_parse_view(env.data, env.len, &v) != 0 ||
            !(p = cpm__event_checkpoint__unpack(NULL, v.payload.len, v.payload.data))) {
            rc = -1;
            break;
        }
        cpm_evcheck_t c = {0};
        snprintf(c.node, sizeof c.node, "%s", p->node);
        snprintf(c.service, sizeof c.service, "%s", p->service);
        c.seq = p->seq;
        c.at_ms = p->at_ms;
        c.range_from = p->range_from;
        cpm__event_checkpoint__free_unpacked(p, NULL);
        Cpm__Event **evs = NULL;
        size_t ne = 0;
        cpm_evrange_t r;
        cpm_evrange_init(&r, c.range_from);
        for (uint64_t s = c.range_from; s <= c.seq && rc == 0; s++) {
            if (cpm_eventlog_read(st, txn, s, 1, &evs, &ne) != 0 || ne != 1 || evs[0]->seq != s) {
                rc = -1;
            } else {
                cpm_evrange_add(&r, evs[0]->hash.data);
                memcpy(c.head_hash, evs[0]->hash.data, 32);
            }
            cpm_eventlog_free(&evs, ne);
        }
        cpm_evrange_final(&r, c.range_digest);
        cpm_identity_t fake;
        uint8_t *f = NULL;
        size_t flen = 0;
        uint8_t key[12];
        memcpy(key, "evck", 4);
        cpm_put_be64(key + 4, c.seq);
        if (rc == 0 && (cpm_identity_generate(&fake, c.node) != 0 ||
                        cpm_evcheck_seal(&c, &fake, &f, &flen) != 0 ||
                        cpm_store_put(st, txn, CPM_DB_META, key, sizeof key, f, flen) != 0))
            rc = -1;
        free(f);
    }
    cpm_evcheck_frames_free(&frames, n);
    return rc;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *note = NULL;
    uint64_t edit_seq = 0, remove_seq = 0;
    bool re = false, forge_ck = false;
    for (int i = 1; i < argc; i++) {
        bool more = i + 1 < argc;
        if (!strcmp(argv[i], "--data-dir") && more)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--edit") && more)
            edit_seq = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--note") && more)
            note = argv[++i];
        else if (!strcmp(argv[i], "--remove") && more)
            remove_seq = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--rehash"))
            re = true;
        else if (!strcmp(argv[i], "--forge-checkpoints"))
            forge_ck = true;
        else
            dir = NULL, i = argc;
    }
    if (!dir || (!(edit_seq && note) && !remove_seq && !forge_ck)) {
        fprintf(stderr, "usage: cpm_evtamper --data-dir DIR (--edit SEQ --note TEXT [--rehash] "
                        "| --remove SEQ | --forge-checkpoints)\n");
        return 2;
    }
    char err[256];
    cpm_store_t *st = cpm_store_open(dir, 0, NULL, err, sizeof err);
    if (!st) {
        fprintf(stderr, "cpm_evtamper: %s: %s\n", dir, err);
        return 1;
    }
    MDB_txn *txn = NULL;
    int rc = cpm_store_begin(st, true, &txn);
    if (rc == 0 && edit_seq)
        rc = edit(st, txn, edit_seq, note, re);
    if (rc == 0 && remove_seq)
        rc = remove_event(st, txn, remove_seq);
    if (rc == 0 && forge_ck)
        rc = forge(st, txn);
    if (rc == 0)
        rc = cpm_store_commit(txn);
    else
        cpm_store_abort(&txn);
    cpm_store_destroy(&st);
    if (rc != 0)
        fprintf(stderr, "cpm_evtamper: failed\n");
    return rc == 0 ? 0 : 1;
}
