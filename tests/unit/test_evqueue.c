/* cpm_evqueue: copies are the queue's own (the lender may free its event),
 * a full queue or a sweep past cap turns bad and keeps nothing more, clear
 * empties it and makes it good again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cpm_evqueue.h"

static void push(cpm_evqueue_t *q, uint64_t seq, const char *ticket)
{
    Cpm__Event ev = CPM__EVENT__INIT;
    char t[32];
    snprintf(t, sizeof t, "%s", ticket);
    ev.seq = seq;
    ev.kind = "complaint.received";
    ev.ticket = t;
    cpm_evqueue_push(q, "hn.doit", "intake", &ev);
    memset(t, 'x', sizeof t - 1); /* the lender's memory changes after the call */
}

static void test_copies_and_bound(void **state)
{
    (void)state;
    cpm_evqueue_t *q = cpm_evqueue_new(2);
    assert_non_null(q);
    push(q, 1, "DOIT-1");
    push(q, 2, "DOIT-2");
    assert_int_equal(cpm_evqueue_len(q), 2);
    assert_false(cpm_evqueue_bad(q));
    const cpm_evq_item_t *e = cpm_evqueue_at(q, 1);
    assert_string_equal(e->ev->ticket, "DOIT-2");
    assert_string_equal(e->node, "hn.doit");
    assert_string_equal(e->service, "intake");
    assert_null(cpm_evqueue_at(q, 2));
    push(q, 3, "DOIT-3"); /* past cap: lost, so the sweep must not be applied */
    assert_true(cpm_evqueue_bad(q));
    assert_int_equal(cpm_evqueue_len(q), 2);
    cpm_evqueue_clear(q);
    assert_false(cpm_evqueue_bad(q));
    assert_int_equal(cpm_evqueue_len(q), 0);
    push(q, 4, "DOIT-4");
    assert_string_equal(cpm_evqueue_at(q, 0)->ev->ticket, "DOIT-4");
    cpm_evqueue_destroy(&q);
    assert_null(q);
    cpm_evqueue_destroy(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_copies_and_bound)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
