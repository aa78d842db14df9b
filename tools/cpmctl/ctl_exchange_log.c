/* cpmctl exchange verify-log | evidence | verify-evidence: the proof of an
 * exchange's log (docs/protocol.md 19.5, 19.6). */
#include "ctl_args.h"
#include "ctl_exchange.h"
#include "cpm_util.h"
#include "cpm_xevidence.h"
#include "cpm_xlog.h"
#include "exchange.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: cpmctl exchange verify-log [--node AGENCY]\n"
    "       cpmctl exchange evidence SEQ [--node AGENCY] --out FILE\n"
    "       cpmctl exchange verify-evidence FILE [--root-public FILE]\n"
    "\n"
    "verify-log fetches the whole proof log of an agency's exchange (--node, else\n"
    "the identity's own agency) and checks the hash chain, every checkpoint's\n"
    "signature and every cosignature; it exits 1 naming the first bad seq.\n"
    "evidence writes one entry with everything that proves it to FILE (error 409\n"
    "while no checkpoint covers the entry yet: ask again after the next one).\n"
    "verify-evidence checks such a file offline with the root public key (the\n"
    "home's keys/root.public unless --root-public) and prints who asked what,\n"
    "when, who answered and who co-signed.\n";

typedef struct {
    const char *node, *out, *root;
} args_t;

static int parse(int argc, char **argv, ctl_opts_t *o, args_t *a)
{
    static const struct option lo[] = {{"node", required_argument, 0, 'n'},
                                       {"out", required_argument, 0, 'o'},
                                       {"root-public", required_argument, 0, 'r'},
                                       CTL_COMMON_LONGOPTS,
                                       {0, 0, 0, 0}};
    int opt;
    while ((opt = ctl_getopt(argc, argv, "", lo)) != 0) {
        if (ctl_common_opt(opt, o))
            continue;
        if (opt == 'n')
            a->node = optarg;
        else if (opt == 'o')
            a->out = optarg;
        else if (opt == 'r')
            a->root = optarg;
        else
            return opt == 'h' ? 0 : 2;
    }
    return -1;
}

static int pick_node(const ctl_t *c, const char *node, char *out, size_t n, cpm_error_t *err)
{
    const Cpm__Member *me = cpm_registry_member(c->reg, c->id.id);
    const char *ag = node ? node : me && me->agency && *me->agency ? me->agency : NULL;
    const Cpm__Member *m = ag ? cpm_registry_member(c->reg, ag) : NULL;
    if (!m || !cpm_member_service(m, "exchange"))
        return cpm_error_set(err, CPM_E_INVALID, "--node",
                             "say which agency's exchange: --node AGENCY (a member running "
                             "exchange)");
    snprintf(out, n, "%s", m->id);
    return 0;
}

static int ask(ctl_t *c, const char *node, const Cpm__ExchangeLogQuery *q,
               Cpm__ExchangeLogReply **out, cpm_error_t *err)
{
    cpm_msg_t reply = {0};
    *out = NULL;
    int rc = cpm_client_call(c->client, node, "exchange", CPM__MSG_TYPE__MSG_EXCHANGE_LOG_QUERY,
                             &q->base, c->timeout_ms, &reply, err);
    if (rc != 0)
        return rc;
    *out = cpm__exchange_log_reply__unpack(NULL, reply.env->payload.len, reply.env->payload.data);
    cpm_msg_clear(&reply);
    return *out ? 0 : cpm_error_set(err, CPM_E_BAD_MESSAGE, "", "undecodable log reply");
}

typedef struct {
    uint8_t *hashes; /* hash of seq i at 32 * (i - 1) */
    size_t n, cap;
    Cpm__SignedCheckpoint **cps;
    size_t n_cps, cap_cps;
    uint64_t last_cp;
} seen_t;

static int keep_hashes(seen_t *s, Cpm__LogRecord *const *recs, size_t n)
{
    if (s->n + n > s->cap) {
        size_t cap = (s->n + n) * 2;
        uint8_t *h = realloc(s->hashes, cap * 32);
        if (!h)
            return -1;
        s->hashes = h;
        s->cap = cap;
    }
    for (size_t i = 0; i < n; i++)
        memcpy(s->hashes + 32 * (s->n + i), recs[i]->hash.data, 32);
    s->n += n;
    return 0;
}

/* Check every checkpoint against the verified chain; count the co-signed ones
 * and find the newest of them (a checkpoint superseded while its peer was
 * being asked is never co-signed: the next one covers its entries). */
static int check_cps(const ctl_t *c, const char *node, seen_t *s, cpm_xlog_problem_t *p,
                     size_t *cosigned, uint64_t *last_cosigned)
{
    *cosigned = 0;
    *last_cosigned = 0;
    for (size_t i = 0; i < s->n_cps; i++) {
        Cpm__Checkpoint *cp = NULL;
        if (cpm_xcheckpoint_verify_signed(c->reg, s->cps[i], &cp, p) != 0)
            return -1;
        int bad = 0;
        if (strcmp(cp->agency, node) != 0) {
            snprintf(p->what, sizeof p->what, "checkpoint %llu: signed by %s, not %s",
                     (unsigned long long)cp->seq, cp->agency, node);
            bad = 1;
        } else if (cp->seq > s->n) {
            snprintf(p->what, sizeof p->what,
                     "checkpoint %llu: beyond the log's last entry %zu (records removed)",
                     (unsigned long long)cp->seq, s->n);
            bad = 1;
        } else if (memcmp(s->hashes + 32 * (cp->seq - 1), cp->head_hash.data, 32) != 0) {
            snprintf(p->what, sizeof p->what,
                     "checkpoint %llu: its head is not the hash of entry %llu (the log was "
                     "rewritten)",
                     (unsigned long long)cp->seq, (unsigned long long)cp->seq);
            bad = 1;
        }
        p->seq = cp->seq;
        if (s->cps[i]->n_cosignatures) {
            (*cosigned)++;
            if (cp->seq > *last_cosigned)
                *last_cosigned = cp->seq;
        }
        cpm__checkpoint__free_unpacked(cp, NULL);
        if (bad)
            return -1;
    }
    return 0;
}

static int keep_cps(seen_t *s, Cpm__ExchangeLogReply *r)
{
    for (size_t i = 0; i < r->n_checkpoints; i++) {
        Cpm__Checkpoint *cp = NULL;
        cpm_slice_t envb, sig;
        cpm_envelope_view_t v;
        /* dedupe by seq (a page repeats the one covering its end) */
        if (cpm_envelope_parse_signed(r->checkpoints[i]->checkpoint.data,
                                      r->checkpoints[i]->checkpoint.len, &envb, &sig) == 0 &&
            cpm_envelope_parse_view(envb.data, envb.len, &v) == 0)
            cp = cpm__checkpoint__unpack(NULL, v.payload.len, v.payload.data);
        uint64_t seq = cp ? cp->seq : 0;
        if (cp)
            cpm__checkpoint__free_unpacked(cp, NULL);
        if (cp && seq <= s->last_cp)
            continue;
        if (s->n_cps == s->cap_cps) {
            size_t cap = s->cap_cps ? s->cap_cps * 2 : 16;
            Cpm__SignedCheckpoint **g = realloc(s->cps, cap * sizeof *g);
            if (!g)
                return -1;
            s->cps = g;
            s->cap_cps = cap;
        }
        s->cps[s->n_cps++] = r->checkpoints[i];
        r->checkpoints[i] = NULL; /* now ours */
        if (seq)
            s->last_cp = seq;
    }
    /* the reply frees what is left; NULL entries are skipped below */
    size_t k = 0;
    for (size_t i = 0; i < r->n_checkpoints; i++)
        if (r->checkpoints[i])
            r->checkpoints[k++] = r->checkpoints[i];
    r->n_checkpoints = k;
    return 0;
}

static int verify_log(ctl_t *c, const char *node)
{
    cpm_error_t err = {0};
    seen_t s = {0};
    cpm_xlog_head_t head = {0, {0}, false};
    cpm_xlog_problem_t p = {0};
    uint64_t from = 1, head_seq = 0;
    int rc = 0, bad = 0;
    for (;;) {
        Cpm__ExchangeLogQuery q = CPM__EXCHANGE_LOG_QUERY__INIT;
        q.from_seq = from;
        q.max = 256;
        q.checkpoints = true;
        Cpm__ExchangeLogReply *r = NULL;
        if ((rc = ask(c, node, &q, &r, &err)) != 0)
            break;
        head_seq = r->head_seq;
        size_t n = r->n_records;
        if (cpm_xlog_verify_run(r->records, n, &head, &p) != 0 ||
            keep_hashes(&s, r->records, n) != 0 || keep_cps(&s, r) != 0)
            bad = 1;
        cpm__exchange_log_reply__free_unpacked(r, NULL);
        if (bad || n == 0 || head.seq >= head_seq)
            break;
        from = head.seq + 1;
    }
    size_t cosigned = 0;
    uint64_t last_cosigned = 0;
    if (rc == 0 && !bad && head.seq < head_seq) {
        snprintf(p.what, sizeof p.what, "seq %llu: missing (the log's head is %llu)",
                 (unsigned long long)(head.seq + 1), (unsigned long long)head_seq);
        bad = 1;
    }
    if (rc == 0 && !bad && check_cps(c, node, &s, &p, &cosigned, &last_cosigned) != 0)
        bad = 1;
    if (rc != 0) {
        rc = ctl_fail(c, c->json, &err);
    } else if (bad) {
        if (c->json) {
            ctl_print_json(json_pack("{s:b,s:s,s:I,s:s}", "ok", 0, "node", node, "seq",
                                     (json_int_t)p.seq, "problem", p.what));
        } else {
            fprintf(stderr, "cpmctl: %s's exchange log does NOT verify: %s\n", node, p.what);
        }
        rc = 1;
    } else {
        uint64_t last_cp = s.last_cp;
        if (c->json)
            ctl_print_json(json_pack("{s:b,s:s,s:I,s:I,s:I,s:I,s:I}", "ok", 1, "node", node,
                                     "entries", (json_int_t)head.seq, "checkpoints",
                                     (json_int_t)s.n_cps, "cosigned", (json_int_t)cosigned,
                                     "last_checkpoint", (json_int_t)last_cp, "last_cosigned",
                                     (json_int_t)last_cosigned));
        else
            printf("%s's exchange log verifies: %llu entries, hash chain intact; %zu "
                   "checkpoint(s) signed by %s, %zu co-signed by a peer; last checkpoint at "
                   "seq %llu (%llu entries after it not yet checkpointed); the newest co-signed at "
                   "seq "
                   "%llu (0: none)\n",
                   node, (unsigned long long)head.seq, s.n_cps, node, cosigned,
                   (unsigned long long)last_cp,
                   (unsigned long long)(head.seq > last_cp ? head.seq - last_cp : 0),
                   (unsigned long long)last_cosigned);
    }
    for (size_t i = 0; i < s.n_cps; i++)
        cpm__signed_checkpoint__free_unpacked(s.cps[i], NULL);
    free(s.cps);
    free(s.hashes);
    return rc;
}

static int load_root(const char *home, const char *path, uint8_t pk[32], cpm_error_t *err)
{
    char def[1200];
    cpm_public_t pub;
    if (!path) {
        snprintf(def, sizeof def, "%s/keys/root.public", home);
        path = def;
    }
    return cpm_public_load(&pub, path, err) == 0 ? (memcpy(pk, pub.sign_pk, 32), 0) : -1;
}

static int verify_file(const ctl_opts_t *o, const char *file, const char *root)
{
    char home[1024];
    uint8_t pk[32], *buf = NULL;
    size_t len = 0;
    cpm_error_t err = {0};
    ctl_home(o->home, home, sizeof home);
    if (load_root(home, root, pk, &err) != 0)
        return ctl_fail(NULL, o->json, &err);
    if (cpm_read_file(file, CPM_XEVIDENCE_MAX, &buf, &len) != 0) {
        cpm_error_set(&err, CPM_E_NOT_FOUND, "FILE", "cannot read %s", file);
        return ctl_fail(NULL, o->json, &err);
    }
    char *summary = NULL;
    cpm_xlog_problem_t p = {0};
    int rc = cpm_xevidence_verify(buf, len, pk, &summary, &p);
    free(buf);
    if (rc != 0) {
        if (o->json)
            ctl_print_json(json_pack("{s:b,s:s}", "ok", 0, "problem", p.what));
        else
            fprintf(stderr, "cpmctl: the evidence in %s is REFUSED: %s\n", file, p.what);
        return 1;
    }
    if (o->json)
        ctl_print_json(json_pack("{s:b,s:s}", "ok", 1, "summary", summary));
    else
        printf("the evidence in %s verifies:\n%s", file, summary);
    free(summary);
    return 0;
}

static int evidence(ctl_t *c, const char *node, const char *seq_s, const char *out)
{
    cpm_error_t err = {0};
    char *end;
    errno = 0;
    unsigned long long seq = strtoull(seq_s, &end, 10);
    if (!*seq_s || *end || errno || seq == 0) {
        cpm_error_set(&err, CPM_E_INVALID, "SEQ", "SEQ is an entry's seq (1, 2, ...)");
        return ctl_fail(c, c->json, &err);
    }
    Cpm__ExchangeLogQuery q = CPM__EXCHANGE_LOG_QUERY__INIT;
    q.evidence_seq = seq;
    Cpm__ExchangeLogReply *r = NULL;
    if (ask(c, node, &q, &r, &err) != 0)
        return ctl_fail(c, c->json, &err);
    FILE *f = fopen(out, "wb");
    int rc = f && fwrite(r->evidence.data, 1, r->evidence.len, f) == r->evidence.len ? 0 : -1;
    if (f && fclose(f) != 0)
        rc = -1;
    if (rc != 0) {
        cpm_error_set(&err, CPM_E_INTERNAL, "--out", "cannot write %s", out);
        rc = ctl_fail(c, c->json, &err);
    } else if (c->json) {
        ctl_print_json(json_pack("{s:b,s:s,s:I,s:I}", "ok", 1, "file", out, "seq", (json_int_t)seq,
                                 "bytes", (json_int_t)r->evidence.len));
    } else {
        printf("evidence of entry %llu of %s's log: %zu bytes in %s\n", seq, node, r->evidence.len,
               out);
    }
    cpm__exchange_log_reply__free_unpacked(r, NULL);
    return rc;
}

int ctl_exchange_log(const ctl_opts_t *gopts, int argc, char **argv)
{
    const char *verb = argv[0]; /* verify-log | evidence | verify-evidence */
    ctl_opts_t o = *gopts;
    args_t a = {0};
    int prc = parse(argc, argv, &o, &a);
    if (prc >= 0)
        return ctl_usage(usage, prc);
    int npos = !strcmp(verb, "verify-log") ? 0 : 1;
    if (optind + npos != argc || (!strcmp(verb, "evidence") && !a.out))
        return ctl_usage(usage, 2);
    const char *pos = npos ? argv[optind] : NULL;
    if (!strcmp(verb, "verify-evidence"))
        return verify_file(&o, pos, a.root);
    ctl_t c;
    if (ctl_open(&c, &o) != 0)
        return 1;
    cpm_error_t err = {0};
    char node[128];
    int rc = pick_node(&c, a.node, node, sizeof node, &err);
    if (rc != 0)
        rc = ctl_fail(&c, c.json, &err);
    else if (!strcmp(verb, "verify-log"))
        rc = verify_log(&c, node);
    else
        rc = evidence(&c, node, pos, a.out);
    ctl_close(&c);
    return rc;
}
