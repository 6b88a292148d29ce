/* Which services the all-in-one runs: HAUSBUS_COMPONENTS parsed and checked. */
#ifndef ALLINONE_SELECT_H
#define ALLINONE_SELECT_H

#include <stdbool.h>
#include <stddef.h>

#include "hausbus/err.h"

/* The services by index, in start order; the gateway last, once the components run. */
enum allinone_service {
    ALLINONE_ORDER,
    ALLINONE_PRODUCT,
    ALLINONE_PAYMENT,
    ALLINONE_DELIVERY,
    ALLINONE_NOTIFICATION,
    ALLINONE_VIEW,
    ALLINONE_GATEWAY,
    ALLINONE_N_SERVICES
};

#define ALLINONE_NAMES_TEXT "order, product, payment, delivery, notification, view, gateway"

/* "order", ..., "gateway": the name of service i (i < ALLINONE_N_SERVICES). */
const char *allinone_service_name(enum allinone_service i);

/* Parses a HAUSBUS_COMPONENTS value: NULL (unset) selects every service; otherwise a comma
 * list of names from ALLINONE_NAMES_TEXT, each once, blanks around a name allowed. Sets
 * selected[i] for each named service. Returns HB_OK, or HB_ERR_INVAL for an empty list,
 * an empty item, an unknown or a repeated name, with the reason in why (always
 * NUL-terminated, cut to why_len). */
hb_err_t allinone_select(const char *text, bool selected[ALLINONE_N_SERVICES], char *why,
                         size_t why_len);

#endif
