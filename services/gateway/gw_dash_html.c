/* gw_dash_html: see gw_dash_html.h. */
#include "gw_dash_html.h"

#include <string.h>

void gw_html_esc(gw_resp_t *rs, const char *s)
{
    for (const char *p = s ? s : ""; *p; p++) {
        switch (*p) {
        case '&':
            gw_resp_append(rs, "&amp;", 5);
            break;
        case '<':
            gw_resp_append(rs, "&lt;", 4);
            break;
        case '>':
            gw_resp_append(rs, "&gt;", 4);
            break;
        case '"':
            gw_resp_append(rs, "&quot;", 6);
            break;
        case '\'':
            gw_resp_append(rs, "&#39;", 5);
            break;
        default:
            gw_resp_append(rs, p, 1);
        }
    }
}

void gw_page_begin(gw_resp_t *rs, const char *title, const gw_session_t *s)
{
    rs->content_type = "text/html; charset=utf-8";
    gw_resp_header(rs, "Cache-Control", "no-store");
    gw_resp_header(rs, "Content-Security-Policy",
                   "default-src 'self'; style-src 'self'; img-src 'self' data:; "
                   "frame-ancestors 'none'; form-action 'self'");
    gw_resp_header(rs, "X-Frame-Options", "DENY");
    gw_resp_printf(rs, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                       "<title>");
    gw_html_esc(rs, title);
    gw_resp_printf(rs, " · cpmesh</title>\n<link rel=\"stylesheet\" href=\"/static/dash.css\">\n"
                       "</head><body>\n<header><strong>cpmesh</strong>");
    if (s) {
        gw_resp_printf(rs,
                       "<nav><a href=\"/dash\">Overview</a> <a href=\"/dash/cases\">Cases</a> "
                       "<a href=\"/dash/live\">Live</a> <a href=\"/dash/complaint\">File</a></nav>"
                       "<form method=\"post\" action=\"/logout\" class=\"who\">");
        gw_html_esc(rs, s->grant.member);
        gw_resp_printf(rs, " (");
        gw_html_esc(rs, s->grant.role);
        gw_resp_printf(rs,
                       ") <input type=\"hidden\" name=\"csrf\" value=\"%s\">"
                       "<button type=\"submit\">Log out</button></form>",
                       s->csrf);
    }
    gw_resp_printf(rs, "</header>\n<main>\n<h1>");
    gw_html_esc(rs, title);
    gw_resp_printf(rs, "</h1>\n");
}

void gw_page_end(gw_resp_t *rs)
{
    gw_resp_printf(rs, "</main>\n<script src=\"/static/dash.js\"></script>\n</body></html>\n");
}
