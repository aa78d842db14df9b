#include "cpm_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *cpm_err_name(int code)
{
    switch (code) {
    case CPM_OK:
        return "ok";
    case CPM_E_INVALID:
        return "invalid";
    case CPM_E_FORBIDDEN:
        return "forbidden";
    case CPM_E_NOT_FOUND:
        return "not_found";
    case CPM_E_CONFLICT:
        return "conflict";
    case CPM_E_TOO_LARGE:
        return "too_large";
    case CPM_E_BAD_MESSAGE:
        return "bad_message";
    case CPM_E_INTERNAL:
        return "internal";
    case CPM_E_UNAVAILABLE:
        return "unavailable";
    case CPM_E_TIMEOUT:
        return "timeout";
    case CPM_E_STORE_FULL:
        return "store_full";
    case CPM_E_STORE_IO:
        return "store_io";
    default:
        return "unknown";
    }
}

int cpm_err_retryable(int code)
{
    return code == CPM_E_UNAVAILABLE || code == CPM_E_TIMEOUT || code == CPM_E_STORE_FULL ||
           code == CPM_E_STORE_IO;
}

int cpm_err_is_store(int code)
{
    return code == CPM_E_STORE_FULL || code == CPM_E_STORE_IO;
}

int cpm_error_set(cpm_error_t *e, int code, const char *field, const char *fmt, ...)
{
    if (!e)
        return code;
    e->code = code;
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return code;
}
