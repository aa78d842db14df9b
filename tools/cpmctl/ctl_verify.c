/* cpmctl case verify: check the signed acts in a case's history against the
 * registry (docs/protocol.md 13, "Verifying an entry later"). */
#include "ctl_args.h"
#include "cpm_case.h"
#include "cpm_envelope.h"
#include "cpm_keyhist.h"
#include "cpm_keys.h"

#include <stdio.h>
#include <string.h>

/* "ok", or why the entry's signed act does not show that its actor did it.
 * The key is judged at the act's own time (docs/protocol.md 13.1): a key
 * rotated or revoked since still shows an act made while it was valid. */
static const char *check_entry(const ctl_t *c, const char *ticket, const Cpm__StatusEntry *e)
{
    cpm_slice_t envb;
    cpm_envelope_view_t v;
    const Cpm__Member *m = NULL;
    cpm_member_key_t k;
    cpm_verdict_t vd = cpm_verify_signed_key(c->reg, e->signed_action.data, e->signed_action.len,
                                             &envb, &v, &m, &k);
    if (vd == CPM_V_MALFORMED || vd == CPM_V_OVERSIZE || vd == CPM_V_BAD_VERSION)
        return "not a signed envelope";
    if (vd == CPM_V_UNKNOWN_SENDER)
        return "the signer is not in this registry";
    if (vd == CPM_V_UNKNOWN_KEY)
        return "signed with a key this registry does not give the signer";
    if (vd != CPM_V_OK)
        return "bad signature";
    if (strcmp(m->id, e->actor) != 0)
        return "signed by another member than the actor";
    Cpm__CaseAction *a = v.type == CPM__MSG_TYPE__MSG_CASE_ACTION
                             ? cpm__case_action__unpack(NULL, v.payload.len, v.payload.data)
                             : NULL;
    cpm_key_standing_t standing;
    const char *why =
        !a                                       ? "not a case action"
        : strcmp(a->ticket, ticket) != 0         ? "an act on another ticket"
        : cpm_case_target(a->action) != e->state ? "an act that leads elsewhere"
        : a->outcome != e->outcome               ? "another outcome"
        : a->acted_ms && a->acted_ms != e->at_ms ? "another time"
        : cpm_keyhist_check_at(&k, a->acted_ms ? a->acted_ms : v.sent_ms, &standing) != CPM_V_OK
            ? "signed with a key that was not valid at the act's time"
        : standing == CPM_KEY_ROTATED ? "ok (key rotated since)"
        : standing == CPM_KEY_REVOKED ? "ok (signed by a now-revoked key)"
                                      : "ok";
    cpm__case_action__free_unpacked(a, NULL);
    return why;
}

int ctl_case_verify(ctl_t *c, const Cpm__StatusReply *r)
{
    int bad = 0, checked = 0;
    char t[40];
    json_t *list = c->json ? json_array() : NULL;
    for (size_t i = 0; i < r->n_history; i++) {
        const Cpm__StatusEntry *e = r->history[i];
        if (!e->signed_action.len)
            continue;
        const char *why = check_entry(c, r->ticket, e);
        checked++;
        bad += strncmp(why, "ok", 2) != 0;
        const char *state = cpm_case_state_name(e->state);
        if (list)
            json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:s}", "at", ctl_time(e->at_ms, t),
                                                  "state", state ? state : "", "actor",
                                                  ctl_utf8(e->actor), "result", why));
        else
            printf("  %s  %-16s %-28s %s\n", ctl_time_vn(e->at_ms, t), state ? state : "",
                   ctl_safe(e->actor), why);
    }
    if (list)
        ctl_print_json(json_pack("{s:b,s:s,s:i,s:i,s:o}", "ok", bad == 0, "ticket",
                                 ctl_utf8(r->ticket), "checked", checked, "bad", bad, "entries",
                                 list));
    else
        printf("%s: %d signed act%s checked, %d bad\n", ctl_safe(r->ticket), checked,
               checked == 1 ? "" : "s", bad);
    return bad ? 1 : 0;
}
