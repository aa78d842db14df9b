/* Tests of cpm_subscriber against a tiny in-process service
 * (fixtures/responder.h): delivery in order, the cursor kept across
 * destroy/new, the kind filter, a gap in the publications filled by a fetch,
 * a broken hash chain refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cpm_subscriber.h"
#include "fixtures/responder.h"

#include <stdlib.h>
#include <unistd.h>

typedef struct {
    resp_t r;
    void *zctx;
    cpm_client_t *c;
    char dir[64];
    uint64_t seqs[RESP_MAX_EVENTS];
    bool ok[RESP_MAX_EVENTS];
    size_t n;
    int broken_notices;
    cpm_subscriber_t *s; /* the live one, so that teardown closes it after a failed assertion */
} fx_t;

static void on_event(void *arg, const char *node, const char *service, const Cpm__Event *ev,
                     bool chain_ok)
{
    fx_t *f = arg;
    assert_string_equal(node, "hn.doit");
    assert_string_equal(service, "intake");
    if (f->n < RESP_MAX_EVENTS) {
        f->ok[f->n] = chain_ok;
        f->seqs[f->n++] = ev->seq;
    }
}

static void on_notice(void *arg, const char *node, const char *service, cpm_sub_notice_t what,
                      const char *detail)
{
    fx_t *f = arg;
    if (what == CPM_SUB_BROKEN_CHAIN)
        f->broken_notices++;
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    if (!f || resp_start(&f->r, false) != 0)
        return -1;
    f->zctx = zmq_ctx_new();
    if (cpm_client_new(&f->c, f->zctx, f->r.reg, &f->r.cli, NULL, NULL) != 0)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/cpm-sub-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    cpm_subscriber_destroy(&f->s);
    cpm_client_destroy(&f->c);
    zmq_ctx_term(f->zctx);
    resp_stop(&f->r);
    free(f);
    return 0;
}

static cpm_subscriber_t *sub_new(fx_t *f, cpm_sub_opts_t o)
{
    o.on_event = on_event;
    o.on_notice = on_notice;
    o.arg = f;
    o.fetch_timeout_ms = 10000;
    cpm_subscriber_t *s = NULL;
    cpm_error_t err = {0};
    assert_int_equal(cpm_subscriber_new(&s, f->zctx, f->r.reg, &f->r.cli, f->c, &o, &err), 0);
    f->s = s;
    return s;
}

static void test_cursor_kept_across_destroy_and_new(void **state)
{
    fx_t *f = *state;
    for (int i = 0; i < 5; i++)
        resp_append(&f->r, "complaint.received");
    cpm_subscriber_t *s = sub_new(f, (cpm_sub_opts_t){.cursor_dir = f->dir});
    int failed = -1;
    assert_int_equal(cpm_subscriber_sweep(s, 0, &failed), 5);
    assert_int_equal(failed, 0);
    for (size_t i = 0; i < 5; i++)
        assert_true(f->seqs[i] == i + 1 && f->ok[i]);
    cpm_subscriber_destroy(&s);
    f->s = NULL;
    assert_null(s);

    /* A new subscriber on the same store resumes after 5, checking 6 from
     * the stored hash (a batch that starts mid-chain). */
    for (int i = 0; i < 3; i++)
        resp_append(&f->r, "case.routed");
    f->n = 0;
    s = sub_new(f, (cpm_sub_opts_t){.cursor_dir = f->dir});
    assert_int_equal(cpm_subscriber_cursor(s, "hn.doit", "intake"), 5);
    assert_int_equal(cpm_subscriber_sweep(s, 0, NULL), 3);
    assert_true(f->seqs[0] == 6 && f->seqs[2] == 8 && f->ok[0]);
    cpm_subscriber_destroy(&s);
    f->s = NULL;

    /* from_start ignores it */
    f->n = 0;
    s = sub_new(f, (cpm_sub_opts_t){.cursor_dir = f->dir, .from_start = true});
    assert_int_equal(cpm_subscriber_sweep(s, 0, NULL), 8);
    cpm_subscriber_destroy(&s);
    f->s = NULL;
}

static void test_filter_by_kind_node_service(void **state)
{
    fx_t *f = *state;
    resp_append(&f->r, "complaint.received");
    resp_append(&f->r, "case.routed");
    resp_append(&f->r, "case.assigned");
    cpm_subscriber_t *s =
        sub_new(f, (cpm_sub_opts_t){.filter = {.kind_prefix = "case.", .node = "hn.doit"}});
    assert_int_equal(cpm_subscriber_sweep(s, 0, NULL), 3); /* read past, shown or not */
    assert_int_equal(f->n, 2);
    assert_true(f->seqs[0] == 2 && f->seqs[1] == 3);
    assert_int_equal(cpm_subscriber_cursor(s, "hn.doit", "intake"), 3);
    cpm_subscriber_destroy(&s);
    f->s = NULL;
    /* a service that the node does not run: no source at all */
    f->n = 0;
    s = sub_new(f, (cpm_sub_opts_t){.filter = {.service = "routing"}});
    assert_int_equal(cpm_subscriber_sweep(s, 0, NULL), 0);
    assert_int_equal(f->n, 0);
    cpm_subscriber_destroy(&s);
    f->s = NULL;
}

static void test_gap_in_publications_is_fetched(void **state)
{
    fx_t *f = *state;
    for (int i = 0; i < 3; i++)
        resp_append(&f->r, "complaint.received");
    cpm_subscriber_t *s = sub_new(f, (cpm_sub_opts_t){0});
    assert_int_equal(cpm_subscriber_sweep(s, 0, NULL), 3);
    resp_append(&f->r, "case.routed");
    resp_append(&f->r, "case.assigned");
    /* Only 5 is published (4 was "lost"): the subscriber fetches 4 first.
     * Publish until the SUB link is up and it has both, or a generous deadline. */
    int64_t deadline = cpm_mono_ms() + 30000;
    while (f->n < 5 && cpm_mono_ms() < deadline) {
        resp_publish(&f->r, 5, 5);
        cpm_subscriber_poll(s, 200, 0);
    }
    assert_int_equal(f->n, 5);
    assert_true(f->seqs[3] == 4 && f->seqs[4] == 5 && f->ok[3] && f->ok[4]);
    /* published again: nothing shown twice */
    resp_publish(&f->r, 4, 5);
    cpm_subscriber_poll(s, 200, 0);
    assert_int_equal(f->n, 5);
    cpm_subscriber_destroy(&s);
    f->s = NULL;
}

static void test_broken_chain_refused(void **state)
{
    fx_t *f = *state;
    for (int i = 0; i < 5; i++)
        resp_append(&f->r, "complaint.received");
    f->r.ev[3].note = "rewritten"; /* its hash no longer matches */
    cpm_subscriber_t *s = sub_new(f, (cpm_sub_opts_t){.cursor_dir = f->dir});
    assert_int_equal(cpm_subscriber_sweep(s, 0, NULL), 2);
    assert_int_equal(cpm_subscriber_cursor(s, "hn.doit", "intake"), 2);
    assert_int_equal(cpm_subscriber_refused(s), 1);
    assert_int_equal(f->broken_notices, 1);
    cpm_subscriber_destroy(&s);
    f->s = NULL;

    /* accept_broken (cpmctl's choice): shown, flagged */
    f->n = 0;
    s = sub_new(f, (cpm_sub_opts_t){.accept_broken = true});
    assert_int_equal(cpm_subscriber_sweep(s, 0, NULL), 5);
    assert_true(f->ok[1] && !f->ok[2] && f->ok[3]);
    cpm_subscriber_destroy(&s);
    f->s = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cursor_kept_across_destroy_and_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filter_by_kind_node_service, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gap_in_publications_is_fetched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_chain_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
