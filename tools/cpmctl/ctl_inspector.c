/* cpmctl inspector: the inspector's device. checkout and sync talk to the
 * agency's inspection service (ctl_inspector_sync.c); every other command
 * works with no connection and never opens a socket. */
#include "ctl_inspector.h"

#include "ctl_args.h"
#include "cpm_envelope.h"
#include "cpm_fieldrec.h"
#include "cpm_util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char inspector_usage[] =
    "usage: cpmctl [--as INSPECTOR] inspector COMMAND [ARGS] [--device DIR] [--json]\n"
    "\n"
    "The inspector's device: its own store under HOME/field/INSPECTOR (or --device DIR).\n"
    "  checkout                  fetch the inspections assigned to you (needs the mesh)\n"
    "  list                      the inspections on this device and their records\n"
    "  finding add --inspection ID --item CODE [--violation CODE] [--severity 0-3]\n"
    "              [--fine VND] [--description TEXT] [--lat X --lon Y] [--time T]\n"
    "              [--id ID] [--evidence HASH|FILE ...]\n"
    "                            record a signed finding (no connection needed)\n"
    "  evidence add FILE         keep a photo or document, content-addressed (BLAKE2b)\n"
    "  outcome --inspection ID --outcome fined|no-violation|mediated|... [--fine VND]\n"
    "  submit --inspection ID    your part of the inspection is done\n"
    "  sync [--json]             upload records, then evidence (resumes where it stopped)\n"
    "  status                    records and evidence not yet accepted by the agency\n";

int ctl_field_who(ctl_field_t *w, const ctl_opts_t *o)
{
    memset(w, 0, sizeof *w);
    ctl_home(o->home, w->home, sizeof w->home);
    const char *env = getenv("CPMESH_AS");
    if (o->as)
        snprintf(w->as, sizeof w->as, "%s", o->as);
    else if (env && *env)
        snprintf(w->as, sizeof w->as, "%s", env);
    else {
        char path[1100];
        uint8_t *buf = NULL;
        size_t len = 0;
        snprintf(path, sizeof path, "%s/identity", w->home);
        if (cpm_read_file(path, 256, &buf, &len) == 0) {
            buf[strcspn((char *)buf, "\r\n")] = 0;
            snprintf(w->as, sizeof w->as, "%s", (char *)buf);
            free(buf);
        }
    }
    w->json = o->json;
    if (!*w->as || strchr(w->as, '/')) {
        fprintf(stderr, "cpmctl inspector: no identity: pass --as INSPECTOR\n");
        return -1;
    }
    return 0;
}

static int fail(const ctl_field_t *w, const cpm_error_t *e)
{
    if (w->json)
        ctl_print_json(json_pack("{s:b,s:s,s:s,s:s}", "ok", 0, "error", cpm_err_name(e->code),
                                 "field", e->field, "message", e->message));
    else
        fprintf(stderr, "cpmctl inspector: %s%s%s\n", e->field, *e->field ? ": " : "", e->message);
    return 1;
}

static int open_device(const ctl_field_t *w, field_device_t *d)
{
    cpm_error_t e = {0};
    if (field_device_open(d, w->home, w->as, w->device_dir, &e) != 0)
        return fail(w, &e);
    return 0;
}

/* ---- evidence add ----------------------------------------------------------- */

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Import path (or find hash hex on the device) into ref. */
static int evidence_ref(field_device_t *d, const char *arg, Cpm__EvidenceRef *ref, uint8_t *hash,
                        char *name, size_t nlen, cpm_error_t *e)
{
    cpm__evidence_ref__init(ref);
    uint64_t size = 0;
    bool existed = false;
    size_t hl = 0;
    if (strlen(arg) == 64 && sodium_hex2bin(hash, 32, arg, 64, NULL, &hl, NULL) == 0 && hl == 32) {
        const void *v;
        size_t vl;
        MDB_txn *txn;
        int rc = cpm_store_begin(d->st, false, &txn);
        if (rc == 0)
            rc = cpm_store_get(d->st, txn, FIELD_DEV_EVIDENCE, arg, 64, &v, &vl);
        if (rc != 0) {
            if (txn)
                cpm_store_abort(&txn);
            return cpm_error_set(e, CPM_E_NOT_FOUND, "evidence",
                                 "no evidence %s on this device: add it first", arg);
        }
        char buf[400];
        snprintf(buf, sizeof buf, "%.*s", (int)vl, (const char *)v);
        cpm_store_abort(&txn);
        char *sep = strchr(buf, '\x1f');
        size = strtoull(buf, NULL, 10);
        snprintf(name, nlen, "%s", sep ? sep + 1 : "");
    } else {
        int rc = cpm_evidence_import(d->ev, arg, hash, &size, &existed, e);
        if (rc != 0)
            return rc;
        char hex[65], val[400];
        cpm_evidence_hex(hash, hex);
        snprintf(name, nlen, "%s", base_name(arg));
        int vl = snprintf(val, sizeof val, "%llu\x1f%s", (unsigned long long)size, name);
        MDB_txn *txn;
        rc = cpm_store_begin(d->st, true, &txn);
        if (rc == 0) {
            rc = cpm_store_put(d->st, txn, FIELD_DEV_EVIDENCE, hex, 64, val, (size_t)vl);
            rc = rc ? (cpm_store_abort(&txn), rc) : cpm_store_commit(txn);
        }
        if (rc != 0)
            return cpm_error_set(e, rc, "device", "%s", cpm_err_name(rc));
    }
    ref->blake2b.data = hash;
    ref->blake2b.len = 32;
    ref->size = size;
    ref->name = name;
    return 0;
}

static int cmd_evidence_add(const ctl_field_t *w, int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "add") != 0)
        return ctl_usage(inspector_usage, 2);
    field_device_t d;
    if (open_device(w, &d) != 0)
        return 1;
    Cpm__EvidenceRef ref;
    uint8_t hash[32];
    char name[256], hex[65];
    cpm_error_t e = {0};
    int rc = evidence_ref(&d, argv[2], &ref, hash, name, sizeof name, &e);
    field_device_close(&d);
    if (rc != 0)
        return fail(w, &e);
    cpm_evidence_hex(hash, hex);
    if (w->json)
        ctl_print_json(json_pack("{s:b,s:s,s:I,s:s}", "ok", 1, "blake2b", hex, "size",
                                 (json_int_t)ref.size, "name", ctl_utf8(name)));
    else
        printf("%s  %llu bytes  %s\n", hex, (unsigned long long)ref.size, ctl_safe(name));
    return 0;
}

/* ---- records ---------------------------------------------------------------- */

/* Sign r with the inspector's key and keep it on the device. */
static int keep_record(const ctl_field_t *w, field_device_t *d, Cpm__FieldRecord *r)
{
    cpm_error_t e = {0};
    Cpm__Inspection *in = field_device_inspection(d, r->inspection);
    if (!in) {
        cpm_error_set(&e, CPM_E_NOT_FOUND, "inspection",
                      "inspection %s is not on this device: run `cpmctl inspector checkout`",
                      r->inspection);
        return fail(w, &e);
    }
    cpm__inspection__free_unpacked(in, NULL);
    /* the agency: an inspection id is "<agency member id>/I<n>" */
    char recipient[200];
    const char *slash = strrchr(r->inspection, '/');
    snprintf(recipient, sizeof recipient, "%.*s/inspection",
             (int)(slash ? slash - r->inspection : 0), r->inspection);
    cpm_identity_t id;
    char path[1300];
    snprintf(path, sizeof path, "%s/keys/%s.secret", w->home, w->as);
    if (cpm_identity_load(&id, path, &e) != 0)
        return fail(w, &e);
    cpm_sender_t s;
    cpm_sender_init(&s, &id, "device");
    char rid[33];
    if (!r->id || !*r->id) {
        cpm_random_id(rid);
        rid[20] = 0;
        r->id = rid;
    }
    r->inspector = (char *)w->as;
    uint8_t *frame = NULL;
    size_t len = 0;
    int rc = cpm_fieldrec_seal(&s, recipient, r, &frame, &len, &e);
    cpm_identity_wipe(&id);
    if (rc == 0)
        rc = field_device_add_record(d, r->inspection, r->id, frame, len, &e);
    free(frame);
    if (rc != 0)
        return fail(w, &e);
    char t[40];
    if (w->json)
        ctl_print_json(json_pack("{s:b,s:s,s:s,s:s}", "ok", 1, "id", r->id, "inspection",
                                 ctl_utf8(r->inspection), "made", ctl_time(r->made_ms, t)));
    else
        printf("record %s kept for %s (%s), signed by %s\n", r->id, ctl_safe(r->inspection),
               ctl_time_vn(r->made_ms, t), w->as);
    return 0;
}

static const struct {
    const char *name;
    Cpm__Outcome v;
} outcomes[] = {{"fined", CPM__OUTCOME__OUTCOME_FINED},
                {"no-violation", CPM__OUTCOME__OUTCOME_NO_VIOLATION},
                {"mediated", CPM__OUTCOME__OUTCOME_MEDIATED},
                {"refunded", CPM__OUTCOME__OUTCOME_REFUNDED},
                {"referred", CPM__OUTCOME__OUTCOME_REFERRED}};

static int cmd_record(const ctl_field_t *w, Cpm__FieldRecordKind kind, int argc, char **argv)
{
    static const struct option longopts[] = {{"inspection", required_argument, 0, 'i'},
                                             {"item", required_argument, 0, 'm'},
                                             {"violation", required_argument, 0, 'v'},
                                             {"severity", required_argument, 0, 's'},
                                             {"fine", required_argument, 0, 'f'},
                                             {"description", required_argument, 0, 'd'},
                                             {"lat", required_argument, 0, 'a'},
                                             {"lon", required_argument, 0, 'o'},
                                             {"time", required_argument, 0, 't'},
                                             {"id", required_argument, 0, 'I'},
                                             {"evidence", required_argument, 0, 'e'},
                                             {"outcome", required_argument, 0, 'O'},
                                             {"device", required_argument, 0, 'D'},
                                             {"json", no_argument, 0, 'j'},
                                             {"as", required_argument, 0, 'A'},
                                             {"home", required_argument, 0, 'H'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    Cpm__FieldRecord r = CPM__FIELD_RECORD__INIT;
    r.kind = kind;
    r.made_ms = cpm_now_ms();
    const char *evidence[CPM_FIELDREC_EVIDENCE_MAX + 1];
    size_t n_ev = 0;
    bool has_lat = false, has_lon = false;
    ctl_field_t wl = *w;
    int opt;
    char *end;
    cpm_error_t e = {0};
    while ((opt = ctl_getopt(argc, argv, "h", longopts)) != 0) {
        switch (opt) {
        case 'i':
            r.inspection = optarg;
            break;
        case 'm':
            r.item = optarg;
            break;
        case 'v':
            r.violation = optarg;
            break;
        case 'd':
            r.description = optarg;
            break;
        case 'I':
            r.id = optarg;
            break;
        case 'D':
            wl.device_dir = optarg;
            break;
        case 'j':
            wl.json = true;
            break;
        case 'A':
        case 'H':
            break; /* taken by ctl_cmd_inspector */
        case 's':
            r.severity = (uint32_t)strtoul(optarg, &end, 10);
            if (*end || r.severity > 3)
                return fail(
                    w, (cpm_error_set(&e, CPM_E_INVALID, "severity", "severity must be 0-3"), &e));
            break;
        case 'f':
            r.fine_vnd = strtoll(optarg, &end, 10);
            if (*end || r.fine_vnd < 0)
                return fail(w, (cpm_error_set(&e, CPM_E_INVALID, "fine",
                                              "fine must be a whole number of VND >= 0"),
                                &e));
            break;
        case 'a':
            r.lat = strtod(optarg, &end);
            has_lat = !*end;
            break;
        case 'o':
            r.lon = strtod(optarg, &end);
            has_lon = !*end;
            break;
        case 't':
            if (ctl_parse_time(optarg, &r.made_ms) != 0)
                return fail(w, (cpm_error_set(&e, CPM_E_INVALID, "time",
                                              "time must be YYYY-MM-DD[THH:MM[:SS]] or Unix ms"),
                                &e));
            break;
        case 'e':
            if (n_ev >= CPM_FIELDREC_EVIDENCE_MAX)
                return fail(w,
                            (cpm_error_set(&e, CPM_E_TOO_LARGE, "evidence",
                                           "at most %d evidence files", CPM_FIELDREC_EVIDENCE_MAX),
                             &e));
            evidence[n_ev++] = optarg;
            break;
        case 'O': {
            size_t k = 0;
            for (; k < sizeof outcomes / sizeof outcomes[0] && strcmp(optarg, outcomes[k].name);
                 k++)
                ;
            if (k == sizeof outcomes / sizeof outcomes[0])
                return fail(
                    w, (cpm_error_set(
                            &e, CPM_E_INVALID, "outcome",
                            "outcome must be fined, no-violation, mediated, refunded or referred"),
                        &e));
            r.outcome = outcomes[k].v;
            break;
        }
        default:
            return ctl_usage(inspector_usage, opt == 'h' ? 0 : 2);
        }
    }
    if (optind != argc || !r.inspection)
        return fail(
            w, (cpm_error_set(&e, CPM_E_INVALID, "inspection", "--inspection ID is required"), &e));
    if (has_lat != has_lon)
        return fail(w, (cpm_error_set(&e, CPM_E_INVALID, "lat", "give both --lat and --lon"), &e));
    r.has_position = has_lat && has_lon;
    field_device_t d;
    if (open_device(&wl, &d) != 0)
        return 1;
    Cpm__EvidenceRef refs[CPM_FIELDREC_EVIDENCE_MAX], *rp[CPM_FIELDREC_EVIDENCE_MAX];
    uint8_t hashes[CPM_FIELDREC_EVIDENCE_MAX][32];
    char names[CPM_FIELDREC_EVIDENCE_MAX][256];
    for (size_t i = 0; i < n_ev; i++) {
        if (evidence_ref(&d, evidence[i], &refs[i], hashes[i], names[i], sizeof names[i], &e) !=
            0) {
            field_device_close(&d);
            return fail(&wl, &e);
        }
        rp[i] = &refs[i];
    }
    r.evidence = rp;
    r.n_evidence = n_ev;
    int rc = keep_record(&wl, &d, &r);
    field_device_close(&d);
    return rc;
}

/* ---- list / status ---------------------------------------------------------- */

typedef struct {
    const ctl_field_t *w;
    json_t *arr;
    size_t total, pending, conflicts, refused;
} list_ctx_t;

static const char *verdict_name(int v)
{
    switch (v) {
    case CPM__FIELD_VERDICT__FIELD_VERDICT_STORED:
        return "stored";
    case CPM__FIELD_VERDICT__FIELD_VERDICT_SAME:
        return "stored";
    case CPM__FIELD_VERDICT__FIELD_VERDICT_CONFLICT:
        return "conflict";
    case CPM__FIELD_VERDICT__FIELD_VERDICT_REFUSED:
        return "refused";
    default:
        return "not synced";
    }
}

static int list_one(void *ctx, const char *key, const uint8_t *frame, size_t len, int verdict)
{
    list_ctx_t *l = ctx;
    cpm_fieldrec_t f;
    l->total++;
    l->pending += verdict == 0;
    l->conflicts += verdict == CPM__FIELD_VERDICT__FIELD_VERDICT_CONFLICT;
    l->refused += verdict == CPM__FIELD_VERDICT__FIELD_VERDICT_REFUSED;
    if (cpm_fieldrec_parse(frame, len, &f, NULL) != 0)
        return 0;
    char t[40];
    if (l->arr)
        json_array_append_new(
            l->arr,
            json_pack("{s:s,s:s,s:i,s:s,s:s,s:I,s:s,s:i,s:s}", "id", f.rec->id, "inspection",
                      ctl_utf8(f.rec->inspection), "kind", (int)f.rec->kind, "item",
                      ctl_utf8(f.rec->item), "violation", ctl_utf8(f.rec->violation), "fine_vnd",
                      (json_int_t)f.rec->fine_vnd, "made", ctl_time(f.rec->made_ms, t), "evidence",
                      (int)f.rec->n_evidence, "sync", verdict_name(verdict)));
    else if (l->w) {
        char fine[40];
        printf("  %-24s %-20s %-14s fine %s  %s  [%s]\n", f.rec->id, ctl_safe(f.rec->inspection),
               ctl_safe(f.rec->item), ctl_vnd(f.rec->fine_vnd, fine),
               ctl_time_vn(f.rec->made_ms, t), verdict_name(verdict));
    }
    cpm_fieldrec_clear(&f);
    (void)key;
    return 0;
}

static int cmd_list(const ctl_field_t *w, bool status_only)
{
    field_device_t d;
    if (open_device(w, &d) != 0)
        return 1;
    json_t *ins = w->json ? json_array() : NULL;
    MDB_txn *txn;
    if (cpm_store_begin(d.st, false, &txn) == 0) {
        MDB_cursor *cur;
        if (mdb_cursor_open(txn, cpm_store_dbi(d.st, FIELD_DEV_INSPECTIONS), &cur) == 0) {
            MDB_val k, v;
            for (int r = mdb_cursor_get(cur, &k, &v, MDB_FIRST); r == 0;
                 r = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
                Cpm__Inspection *in = cpm__inspection__unpack(NULL, v.mv_size, v.mv_data);
                if (!in)
                    continue;
                if (ins)
                    json_array_append_new(
                        ins, json_pack("{s:s,s:s,s:s,s:s,s:i}", "id", ctl_utf8(in->id), "business",
                                       ctl_utf8(in->business), "address", ctl_utf8(in->address),
                                       "lead", ctl_utf8(in->lead), "state", (int)in->state));
                else if (!status_only)
                    printf("%s  %s%s%s  lead %s  checklist %zu items\n", ctl_safe(in->id),
                           ctl_safe(in->business), *in->address ? ", " : "", ctl_safe(in->address),
                           ctl_safe(in->lead), in->n_checklist);
                cpm__inspection__free_unpacked(in, NULL);
            }
            mdb_cursor_close(cur);
        }
        cpm_store_abort(&txn);
    }
    list_ctx_t l = {status_only ? NULL : w, w->json ? json_array() : NULL, 0, 0, 0, 0};
    if (!w->json && !status_only)
        printf("records:\n");
    int rc = field_device_each_record(&d, list_one, &l);
    field_device_close(&d);
    if (w->json)
        ctl_print_json(json_pack("{s:b,s:o,s:o,s:I,s:I,s:I,s:I}", "ok", rc == 0, "inspections", ins,
                                 "records", l.arr, "total", (json_int_t)l.total, "not_synced",
                                 (json_int_t)l.pending, "conflicts", (json_int_t)l.conflicts,
                                 "refused", (json_int_t)l.refused));
    else
        printf("%zu records, %zu not synced, %zu conflicts, %zu refused\n", l.total, l.pending,
               l.conflicts, l.refused);
    return rc ? 1 : 0;
}

int ctl_cmd_inspector(const ctl_opts_t *gopts, int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
        return ctl_usage(inspector_usage, argc < 2 ? 2 : 0);
    ctl_field_t w;
    ctl_opts_t o = *gopts;
    /* global options may also follow the subcommand */
    for (int i = 2; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--as"))
            o.as = argv[i + 1];
        if (!strcmp(argv[i], "--home"))
            o.home = argv[i + 1];
    }
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--json"))
            o.json = true;
    if (ctl_field_who(&w, &o) != 0)
        return 1;
    for (int i = 2; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--device"))
            w.device_dir = argv[i + 1];
    const char *cmd = argv[1];
    argc--, argv++;
    if (!strcmp(cmd, "checkout"))
        return ctl_inspector_checkout(&o, &w, argc, argv);
    if (!strcmp(cmd, "sync"))
        return ctl_inspector_sync(&o, &w, argc, argv);
    if (!strcmp(cmd, "list"))
        return cmd_list(&w, false);
    if (!strcmp(cmd, "status"))
        return cmd_list(&w, true);
    if (!strcmp(cmd, "evidence"))
        return cmd_evidence_add(&w, argc, argv);
    if (!strcmp(cmd, "finding") && argc >= 2 && !strcmp(argv[1], "add"))
        return cmd_record(&w, CPM__FIELD_RECORD_KIND__FIELD_RECORD_FINDING, argc - 1, argv + 1);
    if (!strcmp(cmd, "outcome"))
        return cmd_record(&w, CPM__FIELD_RECORD_KIND__FIELD_RECORD_OUTCOME, argc, argv);
    if (!strcmp(cmd, "submit"))
        return cmd_record(&w, CPM__FIELD_RECORD_KIND__FIELD_RECORD_SUBMIT, argc, argv);
    fprintf(stderr, "cpmctl inspector: unknown command '%s'\n", cmd);
    return ctl_usage(inspector_usage, 2);
}
