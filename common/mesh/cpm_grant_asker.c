/* cpm_grant_asker: whom a request speaks for (cpm_grant.h). */
#include "cpm_grant.h"

#include "cpm_clock.h"
#include "cpm_log.h"
#include "cpm_ratelimit.h"
#include "cpm_util.h"

const Cpm__Member *cpm_grant_asker(cpm_server_t *srv, const cpm_msg_t *m,
                                   const ProtobufCBinaryData *on_behalf, const char *type_name,
                                   const char *service, cpm_error_t *err)
{
    const cpm_registry_t *reg = cpm_server_registry(srv);
    if (!on_behalf->len) {
        const Cpm__Member *a = cpm_registry_member(reg, m->env->sender);
        if (!a)
            cpm_error_set(err, CPM_E_FORBIDDEN, "sender", "%s is not a member", m->env->sender);
        return a;
    }
    cpm_grant_t g;
    int rc = cpm_grant_verify(reg, on_behalf->data, on_behalf->len, m->env->sender, cpm_now_ms(),
                              &g, err);
    const Cpm__Member *a = rc == 0 ? cpm_registry_member(reg, g.member) : NULL;
    if (a && !cpm_member_may_send(a, type_name, service)) {
        cpm_error_set(err, CPM_E_FORBIDDEN, "on_behalf", "%s may not send %s@%s", g.member,
                      type_name, service);
        a = NULL;
    }
    if (!a) {
        cpm_metrics_add(cpm_server_metrics(srv), "grant.refused", 1);
        static cpm_ratelimit_t grant_log = CPM_RATELIMIT_INIT(20, 10000);
        uint64_t dropped = 0;
        if (cpm_ratelimit_allow(&grant_log, cpm_mono_ms(), &dropped))
            cpm_warn("%s from %s refused: %s%s", type_name, m->env->sender, err->message,
                     cpm_ratelimit_note(dropped));
    }
    return a;
}
