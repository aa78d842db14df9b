/* gw_dash_html: the dashboard's page frame and HTML escaping (no
 * framework: one stylesheet and one small script from www/). */
#ifndef GW_DASH_HTML_H
#define GW_DASH_HTML_H

#include "gw_auth.h"
#include "gw_http.h"

/* Append s with & < > " ' escaped (NULL reads as ""). */
void gw_html_esc(gw_resp_t *rs, const char *s);
/* The page's head, and its navigation when s (the session) is given: the
 * member's name and a logout form carrying the CSRF token. Sets the content
 * type, no-store and a Content-Security-Policy that allows only this site. */
void gw_page_begin(gw_resp_t *rs, const char *title, const gw_session_t *s);
void gw_page_end(gw_resp_t *rs);

#endif
