/* fuzz-gen-corpus: writes the seed corpora of tests/fuzz/corpus/<harness>/
 * from the protocol test vectors (tests/vectors), the unit test fixtures and
 * deploy/hanoi, plus one well-formed example of each payload. Run by hand
 * (tests/fuzz/run --seeds) after a wire-format change; the output is checked
 * in. Seeds are small on purpose: the fuzzer grows its own corpus.
 *
 *   fuzz-gen-corpus OUT_DIR */
#include "cpm_case.h"
#include "fuzz_env.h"

#include "../unit/field_fixture.h"
#include "cpm_fieldrec.h"

#include "cpm_envelope.h"
#include "cpm_eventlog.h"
#include "cpm_util.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *out_dir;

static void put(const char *harness, const char *name, const uint8_t *buf, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", out_dir, harness);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, harness, name);
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(buf, 1, len, f) != len) || fclose(f) != 0)
        fz_die("write", path);
}

/* The same with a prefix byte (the harnesses' form selector) and maybe a
 * second one. */
static void put_prefixed(const char *harness, const char *name, const uint8_t *pre, size_t npre,
                         const uint8_t *buf, size_t len)
{
    uint8_t *b = malloc(npre + len + 1);
    memcpy(b, pre, npre);
    if (len)
        memcpy(b + npre, buf, len);
    put(harness, name, b, npre + len);
    free(b);
}

static void put_msg(const char *harness, const char *name, const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(len + 1);
    protobuf_c_message_pack(m, buf);
    put(harness, name, buf, len);
    free(buf);
}

static uint8_t *hex(const char *h, size_t *len)
{
    *len = h ? strlen(h) / 2 : 0;
    uint8_t *b = malloc(*len + 1);
    if (h && cpm_hex_decode(h, b, *len) != 0)
        fz_die("hex", h);
    return b;
}

static void copy_file(const char *harness, const char *name, const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (cpm_read_file(path, 1 << 20, &buf, &len) != 0)
        fz_die("read", path);
    put(harness, name, buf, len);
    free(buf);
}

static void from_vectors(void)
{
    char path[1024];
    json_error_t je;
    snprintf(path, sizeof path, "%s/tests/vectors/envelopes.json", CPM_FUZZ_SOURCE_DIR);
    json_t *d = json_load_file(path, 0, &je);
    json_t *cases = json_object_get(d, "cases");
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i);
        const char *name = json_string_value(json_object_get(c, "name"));
        size_t len;
        uint8_t *frame = hex(json_string_value(json_object_get(c, "frame_hex")), &len);
        put("fuzz_envelope", name, frame, len);
        free(frame);
        json_t *env = json_object_get(c, "envelope");
        if (!env || strncmp(name, "good", 4) != 0)
            continue;
        uint8_t *e = hex(json_string_value(json_object_get(c, "envelope_hex")), &len);
        put_prefixed("fuzz_signed", name, (const uint8_t[]){0}, 1, e, len);
        free(e);
        int type = (int)json_integer_value(json_object_get(env, "type_value"));
        uint8_t *p = hex(json_string_value(json_object_get(env, "payload_hex")), &len);
        char n2[128];
        snprintf(n2, sizeof n2, "%s-payload", name);
        put_prefixed("fuzz_signed", n2, (const uint8_t[]){1, (uint8_t)type}, 2, p, len);
        if (type == CPM__MSG_TYPE__MSG_SUBMIT_COMPLAINT)
            put("fuzz_complaint", name, p, len);
        if (type == CPM__MSG_TYPE__MSG_CASE_BATCH)
            put("fuzz_delivery", name, p, len);
        if (type == CPM__MSG_TYPE__MSG_EVENTS_PUBLISH)
            put("fuzz_event_batch", name, p, len);
        free(p);
    }
    json_decref(d);
    snprintf(path, sizeof path, "%s/tests/vectors/registry.json", CPM_FUZZ_SOURCE_DIR);
    d = json_load_file(path, 0, &je);
    size_t len;
    uint8_t *sr = hex(json_string_value(json_object_get(d, "signed_registry_hex")), &len);
    put_prefixed("fuzz_registry", "signed", (const uint8_t[]){0}, 1, sr, len);
    free(sr);
    uint8_t *r = hex(json_string_value(json_object_get(d, "registry_hex")), &len);
    put_prefixed("fuzz_registry", "document", (const uint8_t[]){1}, 1, r, len);
    free(r);
    json_decref(d);
}

static void complaint(Cpm__Complaint *c)
{
    cpm__complaint__init(c);
    c->channel = "hotline";
    c->consumer_name = "Nguyen Thi Lan";
    c->consumer_phone = "0912 345 678";
    c->consumer_email = "lan@example.vn";
    c->business_name = "Pho Ngon Co.";
    c->business_address = "12 Hang Bac";
    c->area = "hoan-kiem";
    c->category = "food_safety";
    c->description = "Food poisoning after lunch.";
    c->event_time_ms = fz_now_ms() - 86400000;
    c->client_ref = "seed-1";
    c->urgent = 1;
}

static void payloads(void)
{
    Cpm__Complaint c;
    complaint(&c);
    put_msg("fuzz_complaint", "valid", &c.base);
    Cpm__Consultation k = CPM__CONSULTATION__INIT;
    k.channel = "hotline";
    k.category = "pricing";
    k.summary = "Explained the 7-day return right.";
    k.duration_s = 300;
    k.client_ref = "seed-k";
    put_msg("fuzz_consultation", "valid", &k.base);

    Cpm__Complaint routed;
    complaint(&routed);
    routed.ticket = "HK-00000002";
    routed.intake_node = FZ_AREA;
    routed.received_ms = fz_now_ms();
    Cpm__Assignment a = CPM__ASSIGNMENT__INIT;
    a.complaint = &routed;
    a.agency = FZ_AREA;
    a.rule_id = "area-default";
    a.routed_ms = fz_now_ms();
    a.accept_due_ms = fz_now_ms() + 864000000LL;
    put_msg("fuzz_assignment", "valid", &a.base);

    static const char *const actions[][2] = {
        {"accept", ""}, {"refuse", "Not our area"}, {"resolve", "Fined"}};
    for (int i = 0; i < 3; i++) {
        Cpm__CaseAction ca = CPM__CASE_ACTION__INIT;
        ca.ticket = FZ_TICKET;
        ca.action = cpm_case_action_parse(actions[i][0]);
        ca.note = (char *)actions[i][1];
        put_msg("fuzz_case_action", actions[i][0], &ca.base);
    }
    static const char *const states[] = {"accepted", "refused", "resolved", "assigned"};
    for (int i = 0; i < 4; i++) {
        Cpm__CaseUpdate u = CPM__CASE_UPDATE__INIT;
        u.ticket = FZ_TICKET;
        u.state = cpm_case_state_parse(states[i]);
        u.agency = FZ_AREA;
        u.actor = "hn.officer.hk";
        u.note = i == 1 ? "Not ours" : "";
        u.at_ms = fz_now_ms();
        put_msg("fuzz_case_update", states[i], &u.base);
    }
    Cpm__StatusQuery q = CPM__STATUS_QUERY__INIT;
    q.ticket = FZ_TICKET;
    put_msg("fuzz_status_query", "known", &q.base);
    q.ticket = "DOIT-00000009";
    put_msg("fuzz_status_query", "unknown", &q.base);
    Cpm__EventsFetch f = CPM__EVENTS_FETCH__INIT;
    put_msg("fuzz_events_fetch", "all", &f.base);
    f.from_seq = 2;
    f.max = 1;
    put_msg("fuzz_events_fetch", "one", &f.base);

    /* Delivery batches on each stream the harness knows: a new record, a
     * duplicate, a gap. */
    static const char *const streams[] = {FZ_AREA "/intake>" FZ_CITY "/routing",
                                          FZ_AREA "/inspection>" FZ_CITY "/routing",
                                          FZ_CITY "/routing>" FZ_AREA "/inspection"};
    Cpm__CaseUpdate u = CPM__CASE_UPDATE__INIT;
    u.ticket = FZ_TICKET;
    u.state = CPM__CASE_STATE__CASE_STATE_ACCEPTED;
    u.agency = FZ_AREA;
    u.actor = "hn.officer.hk";
    const ProtobufCMessage *recs[] = {&routed.base, &u.base, &a.base};
    for (int i = 0; i < 3; i++) {
        uint8_t rec[4096];
        size_t len = protobuf_c_message_pack(recs[i], rec);
        ProtobufCBinaryData r[2] = {{len, rec}, {0, NULL}};
        Cpm__DeliveryBatch b = CPM__DELIVERY_BATCH__INIT;
        b.stream = (char *)streams[i];
        b.first_seq = 1;
        b.records = r;
        b.n_records = 2; /* a good record and an empty (invalid) one */
        char name[32];
        snprintf(name, sizeof name, "stream-%d", i);
        put_msg("fuzz_delivery", name, &b.base);
    }

    /* An EventBatch as routing publishes it: its own log. */
    cpm_store_t *st = fz_routing_store();
    MDB_txn *txn = NULL;
    Cpm__Event **evs = NULL;
    size_t n = 0;
    Cpm__EventBatch eb = CPM__EVENT_BATCH__INIT;
    if (cpm_store_begin(st, false, &txn) != 0 ||
        cpm_eventlog_head(st, txn, &eb.head_seq, NULL) != 0 ||
        cpm_eventlog_read(st, txn, 1, 100, &evs, &n) != 0)
        fz_die("events", "read");
    eb.node = FZ_CITY;
    eb.service = "routing";
    eb.events = evs;
    eb.n_events = n;
    put_msg("fuzz_event_batch", "routing", &eb.base);
    cpm_eventlog_free(&evs, n);
    cpm_store_abort(&txn);

    /* The structured form of fuzz_signed for each request type. */
    uint8_t buf[4096];
    size_t len = protobuf_c_message_pack(&c.base, buf);
    put_prefixed("fuzz_signed", "submit", (const uint8_t[]){1, 10}, 2, buf, len);
    len = protobuf_c_message_pack(&k.base, buf);
    put_prefixed("fuzz_signed", "consult", (const uint8_t[]){1, 12}, 2, buf, len);
    len = protobuf_c_message_pack(&q.base, buf);
    put_prefixed("fuzz_signed", "status", (const uint8_t[]){1, 40}, 2, buf, len);
    len = protobuf_c_message_pack(&f.base, buf);
    put_prefixed("fuzz_signed", "events", (const uint8_t[]){1, 50}, 2, buf, len);
}

static void files(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/deploy/hanoi/routing.yaml", CPM_FUZZ_SOURCE_DIR);
    copy_file("fuzz_rules_yaml", "hanoi", path);
    snprintf(path, sizeof path, "%s/tests/unit/fixtures/config", CPM_FUZZ_SOURCE_DIR);
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strstr(e->d_name, ".yaml"))
            continue;
        char p[1400];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        copy_file("fuzz_config_yaml", e->d_name, p);
    }
    if (d)
        closedir(d);
    /* The registry source, with the members whose keys the harness writes. */
    static const char reg[] =
        "mesh: hanoi-fuzz\nversion: 3\nissued: 2025-07-01\nmembers:\n"
        "  - id: hn.doit\n    agency: hn.doit\n    role: city\n    name: City\n"
        "    public_key: keys/hn.doit.public\n    ticket_prefix: DOIT\n    services:\n"
        "      - {name: intake, endpoint: \"tcp://127.0.0.1:7100\", pub_endpoint: "
        "\"tcp://127.0.0.1:7101\"}\n"
        "      - {name: routing, endpoint: \"tcp://127.0.0.1:7110\", pub_endpoint: "
        "\"tcp://127.0.0.1:7111\"}\n"
        "    may_send: [assign_batch@inspection, \"events_fetch@*\"]\n"
        "  - id: hn.d.hoan-kiem\n    agency: hn.d.hoan-kiem\n    role: area\n"
        "    name: Hoan Kiem\n    public_key: keys/hn.d.hoan-kiem.public\n"
        "    ticket_prefix: HK\n    area: hoan-kiem\n    services:\n"
        "      - name: inspection\n        endpoint: \"tcp://127.0.0.1:7220\"\n"
        "        pub_endpoint: \"tcp://127.0.0.1:7221\"\n"
        "    may_send: [\"*@intake\", update_batch@routing]\n"
        "  - id: hn.op.lan\n    agency: hn.doit\n    role: operator\n    name: Lan\n"
        "    public_key: keys/hn.op.lan.public\n    may_send: [submit_complaint@intake]\n"
        "revoked_keys: [0123456789abcdef]\n";
    put("fuzz_registry_yaml", "small", (const uint8_t *)reg, sizeof reg - 1);
    static const char *const lines[] = {
        ("{\"channel\":\"hotline\",\"business_name\":\"Pho Ngon\",\"area\":\"hoan-kiem\","
         "\"category\":\"food_safety\",\"description\":\"Food poisoning\",\"urgent\":true,"
         "\"event_time_ms\":1767052800000,\"consumer_phone\":\"0912 345 678\"}\n"),
        ("{\"channel\":\"web\",\"business_name\":\"Shop\",\"area\":\"ba-dinh\","
         "\"client_ref\":\"r-1\"}\n"),
        "{\"channel\": 5}\n",
        "[1,2,3]\n",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        char name[16];
        snprintf(name, sizeof name, "line-%zu", i);
        put("fuzz_submit_line", name, (const uint8_t *)lines[i], strlen(lines[i]));
    }
}

/* The field sync and inspection seeds (fuzz_field_upload, fuzz_evidence_chunk,
 * fuzz_inspection_plan, fuzz_checklist_yaml): records signed with the field
 * tests' registry (tests/unit/field_fixture.h), as the harnesses expect. */
static void field_seeds(void)
{
    cpm_registry_t *reg = fx_registry(); /* makes fx_id */
    if (!reg)
        fz_die("field registry", "not made");
    cpm_registry_destroy(&reg);
    cpm_sender_t s1;
    cpm_sender_init(&s1, &fx_id[FX_INS1], "device");
    Cpm__EvidenceRef ref = CPM__EVIDENCE_REF__INIT, *refs[1] = {&ref};
    static const uint8_t photo[] = "a small photo of a price list";
    uint8_t h[32];
    cpm_fieldrec_hash(photo, sizeof photo - 1, h);
    ref.blake2b.data = h;
    ref.blake2b.len = 32;
    ref.size = sizeof photo - 1;
    ref.name = "price.jpg";
    Cpm__FieldRecord r = CPM__FIELD_RECORD__INIT;
    r.id = "f2";
    r.inspection = "hn.d.x/I1";
    r.inspector = "inspector1.hn.d.x";
    r.kind = CPM__FIELD_RECORD_KIND__FIELD_RECORD_FINDING;
    r.item = "price-posted";
    r.violation = "no-price";
    r.description = "Không niêm yết giá";
    r.severity = 1;
    r.fine_vnd = 500000;
    r.made_ms = fz_now_ms() - 3600000;
    r.has_position = true;
    r.lat = 21.03;
    r.lon = 105.85;
    r.evidence = refs;
    r.n_evidence = 1;
    size_t plen = protobuf_c_message_get_packed_size(&r.base);
    uint8_t *payload = malloc(plen + 1);
    protobuf_c_message_pack(&r.base, payload);
    ProtobufCBinaryData fr = {0, NULL};
    if (cpm_fieldrec_seal(&s1, "hn.d.x/inspection", &r, &fr.data, &fr.len, NULL) != 0)
        fz_die("seal", "field record");
    Cpm__FieldUpload up = CPM__FIELD_UPLOAD__INIT;
    up.records = &fr;
    up.n_records = 1;
    size_t ulen = protobuf_c_message_get_packed_size(&up.base);
    uint8_t *ubuf = malloc(ulen + 1);
    protobuf_c_message_pack(&up.base, ubuf);
    put_prefixed("fuzz_field_upload", "upload", (const uint8_t[]){0}, 1, ubuf, ulen);
    put_prefixed("fuzz_field_upload", "frame", (const uint8_t[]){1}, 1, fr.data, fr.len);
    put_prefixed("fuzz_field_upload", "payload-signed", (const uint8_t[]){2}, 1, payload, plen);
    put_prefixed("fuzz_field_upload", "record-versions", (const uint8_t[]){3}, 1, payload, plen);
    r.id = "o2";
    r.kind = CPM__FIELD_RECORD_KIND__FIELD_RECORD_OUTCOME;
    r.item = "";
    r.outcome = CPM__OUTCOME__OUTCOME_MEDIATED;
    r.n_evidence = 0;
    free(payload);
    plen = protobuf_c_message_get_packed_size(&r.base);
    payload = malloc(plen + 1);
    protobuf_c_message_pack(&r.base, payload);
    put_prefixed("fuzz_field_upload", "outcome-inspector2", (const uint8_t[]){3 | 4}, 1, payload,
                 plen);
    free(payload);
    free(ubuf);
    free(fr.data);

    Cpm__EvidenceChunk c = CPM__EVIDENCE_CHUNK__INIT;
    c.blake2b.data = h;
    c.blake2b.len = 32;
    c.size = sizeof photo - 1;
    c.data.data = (uint8_t *)photo;
    c.data.len = sizeof photo - 1;
    size_t clen = protobuf_c_message_get_packed_size(&c.base);
    uint8_t *cbuf = malloc(clen + 1);
    protobuf_c_message_pack(&c.base, cbuf);
    put_prefixed("fuzz_evidence_chunk", "whole", (const uint8_t[]){0}, 1, cbuf, clen);
    put_prefixed("fuzz_evidence_chunk", "whole-hashed", (const uint8_t[]){1}, 1, cbuf, clen);
    put_prefixed("fuzz_evidence_chunk", "resumed", (const uint8_t[]){1 | 8}, 1, cbuf, clen);
    put_prefixed("fuzz_evidence_chunk", "not-named", (const uint8_t[]){4}, 1, cbuf, clen);
    free(cbuf);
    c.data.len = 0;
    clen = protobuf_c_message_get_packed_size(&c.base);
    cbuf = malloc(clen + 1);
    protobuf_c_message_pack(&c.base, cbuf);
    put_prefixed("fuzz_evidence_chunk", "status", (const uint8_t[]){0}, 1, cbuf, clen);
    free(cbuf);

    /* fuzz_inspection_plan: bits 0-1 the message, bits 2-4 who (0 officer,
     * 1 coordinator, 3 inspector1). */
    char *tickets[1] = {"HX-00000001"}, *biz[2] = {"Quán A", "Quán B"},
         *team[1] = {"inspector2.hn.d.x"};
    Cpm__InspectionPlan pl = CPM__INSPECTION_PLAN__INIT;
    pl.tickets = tickets;
    pl.n_tickets = 1;
    pl.due_ms = fz_now_ms() + 7 * 86400000LL;
    uint8_t buf[1024];
    size_t n = cpm__inspection_plan__pack(&pl, buf);
    put_prefixed("fuzz_inspection_plan", "plan-cases", (const uint8_t[]){0}, 1, buf, n);
    cpm__inspection_plan__init(&pl);
    pl.campaign = "Tết 2026";
    pl.category = "food_safety";
    pl.area = "hoan-kiem";
    pl.businesses = biz;
    pl.n_businesses = 2;
    n = cpm__inspection_plan__pack(&pl, buf);
    put_prefixed("fuzz_inspection_plan", "plan-campaign", (const uint8_t[]){0 | 1 << 2}, 1, buf, n);
    Cpm__InspectionAssign as = CPM__INSPECTION_ASSIGN__INIT;
    as.id = "hn.d.x/I2";
    as.lead = "inspector1.hn.d.x";
    as.team = team;
    as.n_team = 1;
    n = cpm__inspection_assign__pack(&as, buf);
    put_prefixed("fuzz_inspection_plan", "assign", (const uint8_t[]){1}, 1, buf, n);
    Cpm__InspectionReview rv = CPM__INSPECTION_REVIEW__INIT;
    rv.id = "hn.d.x/I1";
    rv.outcome = CPM__OUTCOME__OUTCOME_FINED;
    rv.fine_vnd = 1500000;
    rv.note = "Đã xử phạt";
    n = cpm__inspection_review__pack(&rv, buf);
    put_prefixed("fuzz_inspection_plan", "review", (const uint8_t[]){2}, 1, buf, n);
    put_prefixed("fuzz_inspection_plan", "review-by-lead", (const uint8_t[]){2 | 3 << 2}, 1, buf,
                 n);
    Cpm__InspectionQuery q = CPM__INSPECTION_QUERY__INIT;
    q.limit = 10;
    q.inspector = "inspector1.hn.d.x";
    n = cpm__inspection_query__pack(&q, buf);
    put_prefixed("fuzz_inspection_plan", "list", (const uint8_t[]){3}, 1, buf, n);
    cpm__inspection_query__init(&q);
    q.id = "hn.d.x/I1";
    n = cpm__inspection_query__pack(&q, buf);
    put_prefixed("fuzz_inspection_plan", "show-by-lead", (const uint8_t[]){3 | 3 << 2}, 1, buf, n);

    char path[1024];
    snprintf(path, sizeof path, "%s/deploy/hanoi/checklists.yaml", CPM_FUZZ_SOURCE_DIR);
    copy_file("fuzz_checklist_yaml", "hanoi", path);
    static const char small[] = "templates:\n"
                                "  - category: default\n"
                                "    items:\n"
                                "      - {code: license, text: \"Giấy phép\"}\n"
                                "  - category: food_safety\n"
                                "    items: [{code: a.b_c-1, text: x}]\n";
    put("fuzz_checklist_yaml", "small", (const uint8_t *)small, sizeof small - 1);
    static const char dup[] = "templates:\n  - category: x\n    items:\n"
                              "      - {code: a, text: one}\n      - {code: a, text: two}\n";
    put("fuzz_checklist_yaml", "duplicate-code", (const uint8_t *)dup, sizeof dup - 1);
}

/* fuzz_journal: journals described as fuzz_journal.c reads them. */
static void journal_seeds(void)
{
    /* five records, contiguous, small payloads, undamaged */
    static const uint8_t clean[] = {5, 0, 0, 4, 'a', 'b', 'c', 0, 0, 4, 'd', 'e', 'f', 0, 0,  1,
                                    0, 0, 9, 1, 2,   3,   4,   5, 6, 7, 8,   0,   0,   2, 'z'};
    put("fuzz_journal", "clean", clean, sizeof clean);
    /* a gap, another id, a switch, then a byte of record 2 rotted and a cut */
    static const uint8_t damaged[] = {6,   0,   0,   3, 'a', 'b',  1,    0, 3, 'c', 'd',  0,   1, 3,
                                      'e', 'f', 0,   2, 3,   'g',  'h',  0, 0, 3,   'i',  'j', 0, 0,
                                      3,   'k', 'l', 0, 0,   0x12, 0x40, 1, 0, 0,   0x30, 0};
    put("fuzz_journal", "damaged", damaged, sizeof damaged);
}

/* fuzz_open311_form: Open311 POST bodies with the harness's key (fuzz-key):
 * a whole complaint, and the refusals' shapes. */
static void open311_seeds(void)
{
    static const char *const forms[] = {
        ("api_key=fuzz-key&service_code=food_safety&lat=21.0285&long=105.8542"
         "&address_string=12+H%C3%A0ng+B%E1%BA%A1c&first_name=An&last_name=Nguyen"
         "&phone=0912345678&email=an%40example.vn&description=Food+poisoning"
         "&attribute%5Bbusiness_name%5D=Pho+Co&client_ref=r-1"),
        "api_key=fuzz-key&service_code=food_safety&address_id=hoan-kiem&description=d",
        "api_key=fuzz-key&api_key=fuzz-key",
        "api_key=%zz&description=%00",
        "token=ab%2Bc+d&csrf=00ff",
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        char name[16];
        snprintf(name, sizeof name, "form-%zu", i);
        put("fuzz_open311_form", name, (const uint8_t *)forms[i], strlen(forms[i]));
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz-gen-corpus OUT_DIR\n");
        return 2;
    }
    out_dir = argv[1];
    mkdir(out_dir, 0755);
    from_vectors();
    payloads();
    files();
    field_seeds();
    journal_seeds();
    open311_seeds();
    return 0;
}
