/* cpm_field_store: what an integration test needs to see and seed in an
 * inspection service's store for the field sync (test_field_sync.py), before
 * the inspection planning commands exist (node's inspection_plan):
 *
 *   cpm_field_store seed --data-dir DIR --id ID --lead M [--team M] [--state N] [--ticket T]
 *       writes a packed Cpm__Inspection under ID in DB "inspections"
 *   cpm_field_store records --data-dir DIR
 *       prints one JSON line per stored field record and kept conflict:
 *       {"key":..., "id":..., "inspector":..., "made_ms":..., "received_ms":..., "conflict":b}
 *   cpm_field_store inspection --data-dir DIR --id ID
 *       prints the inspection as JSON: state, findings, conflicts, outcome_conflict
 *
 * LMDB lets this run beside the service. Exit 0, 1 on failure, 2 on bad usage. */
#include "cpm_store.h"
#include "field.pb-c.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const dbs[] = {"inspections", "field_records", "field_conflicts", NULL};

static int seed(cpm_store_t *st, int argc, char **argv)
{
    Cpm__Inspection in = CPM__INSPECTION__INIT;
    char *team[8], *tickets[8];
    in.state = CPM__INSPECTION_STATE__INSPECTION_STATE_ASSIGNED;
    in.business = "Cửa hàng thực phẩm Hoàn Kiếm";
    in.address = "12 Hàng Bạc";
    in.category = "food_safety";
    in.area = "hoan-kiem";
    in.team = team;
    in.tickets = tickets;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--id"))
            in.id = argv[i + 1];
        else if (!strcmp(argv[i], "--lead"))
            in.lead = argv[i + 1];
        else if (!strcmp(argv[i], "--team") && in.n_team < 8)
            team[in.n_team++] = argv[i + 1];
        else if (!strcmp(argv[i], "--ticket") && in.n_tickets < 8)
            tickets[in.n_tickets++] = argv[i + 1];
        else if (!strcmp(argv[i], "--state"))
            in.state = atoi(argv[i + 1]);
    }
    if (!in.id || !in.lead)
        return 2;
    MDB_txn *txn;
    int rc = cpm_store_begin(st, true, &txn);
    if (rc == 0)
        rc = cpm_store_put_msg(st, txn, "inspections", in.id, &in.base);
    rc = rc ? (cpm_store_abort(&txn), rc) : cpm_store_commit(txn);
    return rc ? 1 : 0;
}

static void dump_db(cpm_store_t *st, MDB_txn *txn, const char *db, int conflict)
{
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, cpm_store_dbi(st, db), &cur) != 0)
        return;
    MDB_val k, v;
    for (int r = mdb_cursor_get(cur, &k, &v, MDB_FIRST); r == 0;
         r = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        Cpm__FieldStored *s = cpm__field_stored__unpack(NULL, v.mv_size, v.mv_data);
        if (!s || !s->record)
            continue;
        printf("{\"key\": \"%.*s\", \"id\": \"%s\", \"inspector\": \"%s\", \"made_ms\": %" PRId64
               ", \"received_ms\": %" PRId64 ", \"fine_vnd\": %" PRId64 ", \"conflict\": %s}\n",
               (int)strcspn(k.mv_data, "\x1f") < (int)k.mv_size ? (int)strcspn(k.mv_data, "\x1f")
                                                                : (int)k.mv_size,
               (const char *)k.mv_data, s->record->id, s->record->inspector, s->record->made_ms,
               s->received_ms, s->record->fine_vnd, conflict ? "true" : "false");
        cpm__field_stored__free_unpacked(s, NULL);
    }
    mdb_cursor_close(cur);
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    for (int i = 2; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--data-dir"))
            dir = argv[i + 1];
    if (argc < 2 || !dir) {
        fprintf(stderr, "usage: cpm_field_store seed|records --data-dir DIR ...\n");
        return 2;
    }
    char err[256];
    cpm_store_t *st = cpm_store_open(dir, 0, dbs, err, sizeof err);
    if (!st) {
        fprintf(stderr, "cpm_field_store: %s: %s\n", dir, err);
        return 1;
    }
    int rc = 2;
    if (!strcmp(argv[1], "seed")) {
        rc = seed(st, argc, argv);
    } else if (!strcmp(argv[1], "inspection")) {
        const char *id = NULL;
        for (int i = 2; i + 1 < argc; i++)
            if (!strcmp(argv[i], "--id"))
                id = argv[i + 1];
        MDB_txn *txn;
        ProtobufCMessage *m = NULL;
        rc = !id || cpm_store_begin(st, false, &txn) ? 1 : 0;
        if (rc == 0) {
            rc = cpm_store_get_msg(st, txn, "inspections", id, &cpm__inspection__descriptor, &m)
                     ? 1
                     : 0;
            cpm_store_abort(&txn);
        }
        if (rc == 0) {
            const Cpm__Inspection *in = (const Cpm__Inspection *)m;
            printf("{\"state\": %d, \"findings\": %u, \"conflicts\": %u, "
                   "\"outcome_conflict\": %s}\n",
                   (int)in->state, in->findings, in->conflicts,
                   in->outcome_conflict ? "true" : "false");
            protobuf_c_message_free_unpacked(m, NULL);
        }
    } else if (!strcmp(argv[1], "records")) {
        MDB_txn *txn;
        rc = cpm_store_begin(st, false, &txn) ? 1 : 0;
        if (rc == 0) {
            dump_db(st, txn, "field_records", 0);
            dump_db(st, txn, "field_conflicts", 1);
            cpm_store_abort(&txn);
        }
    }
    cpm_store_destroy(&st);
    return rc;
}
