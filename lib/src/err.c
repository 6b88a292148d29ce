/* Names for hb_err_t values. */
#include "hausbus/err.h"

const char *hb_strerror(hb_err_t err)
{
    switch (err) {
    case HB_OK:
        return "ok";
    case HB_ERR_NOMEM:
        return "out of memory";
    case HB_ERR_INVAL:
        return "invalid argument";
    case HB_ERR_IO:
        return "i/o error";
    case HB_ERR_DB:
        return "database error";
    case HB_ERR_BUS:
        return "bus error";
    case HB_ERR_DECODE:
        return "cannot decode";
    case HB_ERR_NOT_FOUND:
        return "not found";
    case HB_ERR_CONFLICT:
        return "conflict";
    case HB_ERR_TIMEOUT:
        return "timeout";
    case HB_ERR_TOO_LARGE:
        return "too large";
    case HB_ERR_BUSY:
        return "busy";
    }
    return "unknown error";
}
