/* intake_triage: when intake suggests, when the suggestion routes, the
 * counters, and a missing or bad model file that leaves intake running
 * without suggestions. */
#include "intake_triage.h"
#include "intake_validate.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static const char MODEL[] =
    "{\"format\":\"cpmesh-triage-model\",\"version\":1,\"kind\":\"multinomial_nb\","
    "\"model_id\":\"hanoi-triage-1/0123abcd\",\"alpha_milli\":500,\"scale_milli\":20000,"
    "\"shrink\":0,\"min_known\":3,\"binary\":false,"
    "\"categories\":[{\"slug\":\"food_safety\",\"docs\":10},{\"slug\":\"other\",\"docs\":10},"
    "{\"slug\":\"telecom\",\"docs\":10}],"
    "\"features\":[[\"an\",0,5,1,1],[\"ăn\",0,5],[\"doc\",0,4],[\"độc\",0,4],[\"mang\",2,6],"
    "[\"mạng\",2,6],[\"ngo\",0,4],[\"ngộ\",0,4],[\"ngo doc\",0,4],[\"ngộ độc\",0,4],"
    "[\"hoi\",1,5],[\"hỏi\",1,5],[\"toi\",0,2,1,3,2,2],[\"tôi\",0,2,1,3,2,2],[\"cuoc\",2,4],"
    "[\"cước\",2,4]]}";

static char path[64];

static void write_model(const char *text)
{
    snprintf(path, sizeof path, "/tmp/test_intake_triage.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static Cpm__Complaint *complaint(const char *category, const char *description)
{
    Cpm__Complaint *c = calloc(1, sizeof *c);
    cpm__complaint__init(c);
    c->category = strdup(category);
    c->description = strdup(description);
    c->business_name = strdup("");
    return c;
}

static void test_bad_model_runs_without(void **state)
{
    (void)state;
    cpm_metrics_t *m = cpm_metrics_new();
    intake_triage_t *t = intake_triage_new("/nonexistent/model.json", 700, m);
    assert_non_null(t);
    assert_false(intake_triage_ready(t));
    assert_int_equal(cpm_metrics_get(m, "intake.triage_model_bad"), 1);
    intake_triage_destroy(&t);
    write_model("{\"format\":\"cpmesh-triage-model\",\"version\":7}");
    t = intake_triage_new(path, 700, m);
    assert_false(intake_triage_ready(t));
    assert_int_equal(cpm_metrics_get(m, "intake.triage_model_bad"), 2);
    /* no model: nothing happens */
    Cpm__Complaint *c = complaint("", "tôi ăn xong bị ngộ độc, ngộ độc nặng");
    cpm_error_t err = {0};
    assert_int_equal(intake_triage_apply(t, NULL, c, &err), 0);
    assert_string_equal(c->category, "");
    assert_string_equal(c->category_suggested, "");
    cpm__complaint__free_unpacked(c, NULL);
    intake_triage_destroy(&t);
    intake_triage_destroy(&t);
    unlink(path);
    cpm_metrics_destroy(&m);
}

static void test_suggest_route_low_unknown(void **state)
{
    (void)state;
    write_model(MODEL);
    cpm_metrics_t *m = cpm_metrics_new();
    intake_triage_t *t = intake_triage_new(path, 700, m);
    assert_true(intake_triage_ready(t));
    cpm_error_t err = {0};
    /* sure: routed */
    Cpm__Complaint *c = complaint("other", "tôi ăn, ngộ độc, ngộ độc");
    assert_int_equal(intake_triage_apply(t, NULL, c, &err), 0);
    assert_string_equal(c->category_suggested, "food_safety");
    assert_true(c->suggestion_pm >= 700);
    assert_string_equal(c->category, "food_safety");
    assert_string_equal(c->category_by, "model");
    assert_string_equal(c->model_version, "hanoi-triage-1/0123abcd");
    cpm__complaint__free_unpacked(c, NULL);
    assert_int_equal(cpm_metrics_get(m, "intake.triage_routed"), 1);
    /* a category given by the submitter is kept, no suggestion */
    c = complaint("telecom", "tôi ăn xong bị ngộ độc");
    assert_int_equal(intake_triage_apply(t, NULL, c, &err), 0);
    assert_string_equal(c->category, "telecom");
    assert_string_equal(c->category_suggested, "");
    cpm__complaint__free_unpacked(c, NULL);
    /* unknown: nothing the model knows */
    c = complaint("", "The product broke after two days");
    assert_int_equal(intake_triage_apply(t, NULL, c, &err), 0);
    assert_string_equal(c->category_suggested, "");
    assert_int_equal(c->suggestion_pm, 0);
    assert_string_equal(c->category, "");
    cpm__complaint__free_unpacked(c, NULL);
    assert_int_equal(cpm_metrics_get(m, "intake.triage_unknown"), 1);
    intake_triage_destroy(&t);
    /* below the threshold: suggested, not routed */
    t = intake_triage_new(path, 1000, m);
    c = complaint("", "ăn ngộ độc tôi hỏi mạng");
    assert_int_equal(intake_triage_apply(t, NULL, c, &err), 0);
    assert_string_equal(c->category_suggested, "food_safety");
    assert_true(c->suggestion_pm < 1000);
    assert_string_equal(c->category, "");
    assert_string_equal(c->category_by, "");
    cpm__complaint__free_unpacked(c, NULL);
    assert_int_equal(cpm_metrics_get(m, "intake.triage_low"), 1);
    assert_int_equal(cpm_metrics_get(m, "intake.triage_suggested"), 2);
    intake_triage_destroy(&t);
    unlink(path);
    cpm_metrics_destroy(&m);
}

/* What only intake sets is refused from a client, naming the field; the
 * product is bounded. */
static void test_validate_refuses_client_suggestion(void **state)
{
    (void)state;
    const char *src = getenv("CPM_SOURCE_DIR");
    char rpath[1024];
    snprintf(rpath, sizeof rpath, "%s/deploy/hanoi/routing.yaml", src ? src : ".");
    cpm_rules_t *rules = NULL;
    cpm_error_t err = {0};
    assert_int_equal(cpm_rules_load(rpath, &rules, &err), 0);
    int64_t now = 1780000000000LL;
    Cpm__Complaint c;
    cpm__complaint__init(&c);
    c.channel = "web";
    c.business_name = "Quán Hồng Hà";
    c.area = "hoan-kiem";
    c.description = "ăn xong bị ngộ độc";
    c.product = "bún chả";
    assert_int_equal(intake_validate_complaint(&c, rules, now, &err), 0);
    c.category_suggested = "food_safety";
    assert_int_equal(intake_validate_complaint(&c, rules, now, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "category_suggested");
    c.category_suggested = "";
    c.suggestion_pm = 900;
    assert_int_equal(intake_validate_complaint(&c, rules, now, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "suggestion_pm");
    c.suggestion_pm = 0;
    c.category_by = "model";
    assert_int_equal(intake_validate_complaint(&c, rules, now, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "category_by");
    c.category_by = "";
    c.model_version = "hanoi-triage-1/00000000";
    assert_int_equal(intake_validate_complaint(&c, rules, now, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "model_version");
    c.model_version = "";
    char big[300];
    memset(big, 'x', 257);
    big[257] = 0;
    c.product = big;
    assert_int_equal(intake_validate_complaint(&c, rules, now, &err), CPM_E_TOO_LARGE);
    assert_string_equal(err.field, "product");
    c.product = "b\xffn";
    assert_int_equal(intake_validate_complaint(&c, rules, now, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "product");
    cpm_rules_destroy(&rules);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_model_runs_without),
        cmocka_unit_test(test_suggest_route_low_unknown),
        cmocka_unit_test(test_validate_refuses_client_suggestion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
