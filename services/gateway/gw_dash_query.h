/* gw_dash_query: the dashboard's questions to the mesh, asked for a
 * session's person (their grant in on_behalf) through gw_mesh. */
#ifndef GW_DASH_QUERY_H
#define GW_DASH_QUERY_H

#include "cpm_err.h"
#include "cpmesh.pb-c.h"
#include "gw_auth.h"
#include "gw_http.h"

/* q with on_behalf set to s's grant: 0 and *out (free with
 * cpm__case_list_reply__free_unpacked), or routing's error. */
int gw_dash_list(gw_ctx_t *gw, const gw_session_t *s, Cpm__CaseListQuery *q,
                 Cpm__CaseListReply **out, cpm_error_t *err);
/* The status of ticket as s's person sees it: 0 and *out, or an error
 * (CPM_E_NOT_FOUND: no such case, or not theirs to see). */
int gw_dash_status(gw_ctx_t *gw, const gw_session_t *s, const char *ticket, Cpm__StatusReply **out,
                   cpm_error_t *err);
/* The monitor's effectiveness figures for this year (format json) as a
 * table, or a sentence saying why there are none. */
void gw_dash_effectiveness(gw_ctx_t *gw, const gw_session_t *s, gw_resp_t *rs);

#endif
