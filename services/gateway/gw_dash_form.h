/* gw_dash_form: the dashboard's complaint form, for people whose registry
 * member may itself send submit_complaint@intake (hotline operators).
 *
 *   GET  /dash/complaint  the form, with a fresh client_ref (time-ordered, random after the time)
 *   POST /dash/complaint  checks the session's CSRF token and Origin
 *                         (gw_auth), then submits the complaint to the
 *                         city's intake as the gateway WITH the person's
 *                         grant in Complaint.on_behalf: intake checks the
 *                         grant and files the complaint as that person.
 *
 * The same form sent twice carries the same client_ref, so intake answers
 * the first ticket again. Intake's field errors are shown next to the field
 * they name, with what was typed kept. Counted (gw_count): web.complaint,
 * web.complaint_refused, web.csrf_refused. */
#ifndef GW_DASH_FORM_H
#define GW_DASH_FORM_H

#include "gw_http.h"

int gw_dash_form_get(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs);
int gw_dash_form_post(gw_ctx_t *gw, const gw_req_t *rq, gw_resp_t *rs);

#endif
