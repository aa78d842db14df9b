/* routing_take_complaint (the routing service's entry for a delivered
 * complaint) and the description signatures of routing_themes, which issue
 * 13 made cheaper per record: what routing decides and stores must not move.
 *   - the MinHash signatures of fixed texts are pinned (computed before the
 *     change): the themes stored for a business are the same bytes;
 *   - take reports a contact routing cannot open only for a case it routed
 *     now (not for a second copy), and drops a clear contact, as main.c did
 *     with its own lookups before and after the apply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fixtures/domain/domain_fixture.h"
#include "routing_deliver.h"
#include "routing_themes.h"

#define SELF "hn.doit/routing"
#define INTAKE "hn.d.hoan-kiem"

static const char *const dbs[] = ROUTING_DBS;
#define T0 dom_vn_time(2026, 3, 2, 10, 0)

static const char *const TEXTS[] = {
    ("Tôi mua phở ở quán này và bị đau bụng, 2 người trong nhà cũng bị. The shop sold expired "
     "milk at 12 Hang Bac!"),
    "Gián trong bếp, bát đũa bẩn; nhân viên không đeo găng tay khi làm bánh mì bánh mì",
    "a an the 123 45 toi va cua"};

/* Printed by the test on a mismatch, so that a deliberate change can be
 * pinned again. */
static const uint32_t PINNED[3][ROUTING_THEMES_K] = {
    {475237836u, 50976012u,  22416591u,  338744927u, 196256284u, 230335190u, 509495912u,
     268188019u, 182696235u, 920993309u, 102369145u, 162558978u, 202325996u, 150592917u,
     33130122u,  681829859u, 43116173u,  561466834u, 313074728u, 367794479u, 179349360u,
     119307488u, 222033668u, 872571070u, 71606853u,  157763854u, 323338950u, 1554527723u,
     91727157u,  238862173u, 441573535u, 173556196u, 80988883u,  155777331u, 336171533u,
     362376781u, 30697753u,  189870663u, 503114242u, 168942618u, 277283116u, 314384181u,
     606723645u, 444292606u, 497913225u, 156088908u, 118560883u, 76815067u,  115298923u,
     641050942u, 39734848u,  47544371u,  224879701u, 43355718u,  406564232u, 172644640u,
     114378473u, 135490693u, 63357583u,  104927258u, 624632865u, 35514803u,  278572127u,
     29645893u},
    {119516332u, 236538876u, 137523169u, 119484639u,  526031922u, 332579199u, 121878840u,
     711579790u, 13668931u,  81548402u,  564714155u,  635161932u, 309162420u, 1114313605u,
     300199646u, 319364235u, 613654911u, 328430091u,  110901672u, 127230018u, 254418601u,
     548815188u, 92544727u,  409980883u, 127718157u,  72882224u,  53170823u,  389677712u,
     10445683u,  168488204u, 143394132u, 664300924u,  7342502u,   323247553u, 363605779u,
     358019796u, 846143014u, 204580740u, 1285582183u, 130647249u, 898291936u, 55773824u,
     158025168u, 91385324u,  1817234u,   712402544u,  592956782u, 241663287u, 75704626u,
     361438330u, 15335359u,  35516663u,  138924029u,  231828779u, 391905545u, 257631584u,
     438964973u, 62724567u,  217272600u, 74672724u,   225272315u, 190216272u, 206170781u,
     803264707u},
    {4294967295u, 4294967295u, 4294967295u, 4294967295u, 4294967295u, 4294967295u, 4294967295u,
     4294967295u, 4294967295u, 4294967295u, 4294967295u, 4294967295u, 4294967295u, 4294967295u,
     4294967295u, 4294967295u, 4294967295u, 4294967295u, 4294967295u, 4294967295u, 4294967295u,
     4294967295u, 4294967295u, 4294967295u, 4294967295u, 4294967295u, 4294967295u, 4294967295u,
     4294967295u, 4294967295u, 4294967295u, 4294967295u, 4294967295u, 4294967295u, 4294967295u,
     4294967295u, 4294967295u, 4294967295u, 4294967295u, 4294967295u, 4294967295u, 4294967295u,
     4294967295u, 4294967295u, 4294967295u, 4294967295u, 4294967295u, 4294967295u, 4294967295u,
     4294967295u, 4294967295u, 4294967295u, 4294967295u, 4294967295u, 4294967295u, 4294967295u,
     4294967295u, 4294967295u, 4294967295u, 4294967295u, 4294967295u, 4294967295u, 4294967295u,
     4294967295u}};
static const size_t PINNED_N[3] = {13, 13, 0};

static void test_signatures_pinned(void **state)
{
    (void)state;
    int bad = 0;
    for (int k = 0; k < 3; k++) {
        uint32_t sig[ROUTING_THEMES_K];
        size_t n = routing_themes_signature(TEXTS[k], sig);
        if (n != PINNED_N[k] || memcmp(sig, PINNED[k], sizeof sig) != 0) {
            bad = 1;
            printf("text %d: n=%zu {", k, n);
            for (int i = 0; i < ROUTING_THEMES_K; i++)
                printf("%uu,", sig[i]);
            printf("}\n");
        }
    }
    assert_int_equal(bad, 0);
}

typedef dom_env_t fixture_t;

static int setup(void **state)
{
    *state = dom_env_new(sizeof(fixture_t), "rdeliver", dbs, DOM_RULES | DOM_REGISTRY, SELF,
                         T0 + 60 * 1000);
    return 0;
}

static uint8_t SEALED[] = "\x01opaque sealed contact bytes\x02";

/* A complaint as intake delivers it, its contact sealed for contact_for. */
static Cpm__Complaint complaint(const char *ticket, const char *contact_for)
{
    Cpm__Complaint c = CPM__COMPLAINT__INIT;
    c.ticket = (char *)ticket;
    c.channel = "hotline";
    c.sealed_contact.data = SEALED;
    c.sealed_contact.len = sizeof SEALED;
    c.contact_for = (char *)contact_for;
    c.business_name = "Pho Ngon Co.";
    c.business_address = "12 Hang Bac";
    c.area = "hoan-kiem";
    c.category = "food_safety";
    c.description = "Food poisoning after lunch.";
    c.intake_node = INTAKE;
    c.received_ms = T0;
    return c;
}

static int take(fixture_t *f, Cpm__Complaint *c, routing_took_t *took)
{
    cpm_error_t err = {0};
    MDB_txn *txn = dom_begin(f->st, true);
    return dom_end(txn, routing_take_complaint(f->rules, f->reg, f->st, txn, &f->fx, INTAKE, c,
                                               f->now, took, NULL, &err));
}

static size_t events_of(fixture_t *f, const char *kind)
{
    size_t n = 0;
    for (size_t i = 0; i < f->rec.n_events; i++)
        n += strcmp(f->rec.events[i].kind, kind) == 0;
    return n;
}

/* Sealed for a member that is not the agency the rules choose: reported
 * once, when routed; a second copy of the same complaint reports nothing. */
static void test_unreadable_reported_once(void **state)
{
    fixture_t *f = *state;
    cpm_route_t r;
    cpm_rules_route(f->rules, f->reg, "food_safety", "hoan-kiem", false, &r);
    const char *other = strcmp(r.agency, "hn.qltt") != 0 ? "hn.qltt" : "hn.attp";
    Cpm__Complaint c = complaint("HK-00000001", other);
    routing_took_t took;
    assert_int_equal(take(f, &c, &took), 0);
    assert_true(took.unreadable);
    assert_false(took.clear_dropped);
    assert_int_equal(events_of(f, "contact.unreadable"), 1);
    Cpm__Complaint again = complaint("HK-00000001", other);
    assert_int_equal(take(f, &again, &took), 0);
    assert_false(took.unreadable);
    assert_int_equal(events_of(f, "case.routed"), 1);
    /* sealed for the agency chosen: readable */
    Cpm__Complaint ok = complaint("HK-00000002", r.agency);
    assert_int_equal(take(f, &ok, &took), 0);
    assert_false(took.unreadable);
}

/* A contact in clear (an old intake) is emptied before anything is stored,
 * and said. */
static void test_clear_contact_dropped(void **state)
{
    fixture_t *f = *state;
    cpm_route_t r;
    cpm_rules_route(f->rules, f->reg, "food_safety", "hoan-kiem", false, &r);
    Cpm__Complaint c = complaint("HK-00000003", r.agency);
    c.consumer_phone = strdup("0912 345 678");
    routing_took_t took;
    assert_int_equal(take(f, &c, &took), 0);
    assert_true(took.clear_dropped);
    assert_string_equal(c.consumer_phone, "");
    assert_false(took.unreadable);
}

/* A refused complaint reports nothing. */
static void test_refused_reports_nothing(void **state)
{
    fixture_t *f = *state;
    Cpm__Complaint c = complaint("XX-00000004", "hn.qltt"); /* not this intake's prefix */
    routing_took_t took;
    assert_int_equal(take(f, &c, &took), CPM_E_FORBIDDEN);
    assert_false(took.unreadable);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signatures_pinned),
        cmocka_unit_test_setup_teardown(test_unreadable_reported_once, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_clear_contact_dropped, setup, dom_env_teardown),
        cmocka_unit_test_setup_teardown(test_refused_reports_nothing, setup, dom_env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
