/* cpmctl case verify: check the signed acts in a case's history against the
 * registry (docs/protocol.md 13a, "Verifying an entry later"). */
#include "ctl_args.h"
#include "cpm_case.h"
#include "cpm_envelope.h"
#include "cpm_keys.h"

#include <stdio.h>
#include <string.h>

/* "ok", or why the entry's signed act does not show that its actor did it. */
static const char *check_entry(const ctl_t *c, const char *ticket, const Cpm__StatusEntry *e)
{
    cpm_slice_t envb, sig;
    cpm_envelope_view_t v;
    if (cpm_envelope_parse_signed(e->signed_action.data, e->signed_action.len, &envb, &sig) != 0 ||
        cpm_envelope_parse_view(envb.data, envb.len, &v) != 0)
        return "not a signed envelope";
    char sender[128], kid[CPM_KEY_ID_LEN + 1];
    snprintf(sender, sizeof sender, "%.*s", (int)v.sender.len, (const char *)v.sender.data);
    if (strcmp(sender, e->actor) != 0)
        return "signed by another member than the actor";
    const Cpm__Member *m = cpm_registry_member(c->reg, sender);
    if (!m || m->sign_pk.len != 32)
        return "the signer is not in this registry";
    cpm_key_id(m->sign_pk.data, kid);
    if ((size_t)v.key_id.len != strlen(kid) || memcmp(v.key_id.data, kid, v.key_id.len) != 0)
        return "signed with a key this registry does not give the signer";
    if (cpm_envelope_verify_sig(envb.data, envb.len, sig.data, sig.len, m->sign_pk.data) != 0)
        return "bad signature";
    Cpm__CaseAction *a = v.type == CPM__MSG_TYPE__MSG_CASE_ACTION
                             ? cpm__case_action__unpack(NULL, v.payload.len, v.payload.data)
                             : NULL;
    const char *why = !a                                       ? "not a case action"
                      : strcmp(a->ticket, ticket) != 0         ? "an act on another ticket"
                      : cpm_case_target(a->action) != e->state ? "an act that leads elsewhere"
                      : a->outcome != e->outcome               ? "another outcome"
                      : a->acted_ms && a->acted_ms != e->at_ms ? "another time"
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
        bad += strcmp(why, "ok") != 0;
        const char *state = cpm_case_state_name(e->state);
        if (list)
            json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:s}", "at", ctl_time(e->at_ms, t),
                                                  "state", state ? state : "", "actor",
                                                  ctl_utf8(e->actor), "result", why));
        else
            printf("  %s  %-16s %-28s %s\n", ctl_time(e->at_ms, t), state ? state : "",
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
