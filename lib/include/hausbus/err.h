/* One error type for all of hausbus: hb_err_t and hb_strerror(). */
#ifndef HAUSBUS_ERR_H
#define HAUSBUS_ERR_H

typedef enum {
    HB_OK = 0,
    HB_ERR_NOMEM,     /* allocation failed */
    HB_ERR_INVAL,     /* bad argument or bad configuration */
    HB_ERR_IO,        /* file or socket error */
    HB_ERR_DB,        /* sqlite error */
    HB_ERR_BUS,       /* MQTT error */
    HB_ERR_DECODE,    /* a message or body that cannot be decoded */
    HB_ERR_NOT_FOUND, /* no such record */
    HB_ERR_CONFLICT,  /* the request contradicts the current state */
    HB_ERR_TIMEOUT,   /* no answer in time */
    HB_ERR_TOO_LARGE, /* input over its size bound */
    HB_ERR_BUSY,      /* no room now; try again later */
} hb_err_t;

/* Returns a static, human-readable name for err. Can't fail. */
const char *hb_strerror(hb_err_t err);

#define HB_RETURN_ON_ERR(expr)                                                                     \
    do {                                                                                           \
        hb_err_t hb_rc_ = (expr);                                                                  \
        if (hb_rc_ != HB_OK) {                                                                     \
            return hb_rc_;                                                                         \
        }                                                                                          \
    } while (0)

#endif
