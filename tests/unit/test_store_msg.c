/* cpm_store_get_msg: get and unpack in one call, within the decoding budget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_store.h"
#include "cpmesh.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void get_msg(void **state)
{
    char dir[] = "/tmp/cpm-store-msg-XXXXXX", err[256], cmd[128];
    assert_non_null(mkdtemp(dir));
    const char *const dbs[] = {"things", NULL};
    cpm_store_t *s = cpm_store_open(dir, 0, dbs, err, sizeof err);
    assert_non_null(s);
    MDB_txn *txn;
    assert_int_equal(cpm_store_begin(s, true, &txn), 0);
    Cpm__StatusReply r = CPM__STATUS_REPLY__INIT;
    r.ticket = "T-1";
    r.agency = "hn.doit";
    assert_int_equal(cpm_store_put_msg(s, txn, "things", "T-1", &r.base), 0);
    assert_int_equal(cpm_store_put(s, txn, "things", "bad", 3, "\xff\xff\xff", 3), 0);

    ProtobufCMessage *m = (ProtobufCMessage *)&r;
    assert_int_equal(cpm_store_get_msg(s, txn, "things", "T-1", &cpm__status_reply__descriptor, &m),
                     0);
    assert_string_equal(((Cpm__StatusReply *)m)->agency, "hn.doit");
    protobuf_c_message_free_unpacked(m, NULL);
    assert_int_equal(
        cpm_store_get_msg(s, txn, "things", "none", &cpm__status_reply__descriptor, &m),
        CPM_E_NOT_FOUND);
    assert_null(m);
    assert_int_equal(cpm_store_get_msg(s, txn, "things", "bad", &cpm__status_reply__descriptor, &m),
                     CPM_E_BAD_MESSAGE);
    assert_null(m);
    cpm_store_abort(&txn);
    cpm_store_destroy(&s);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(get_msg)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
