/* HAUSBUS_COMPONENTS: the comma list of services the all-in-one runs. */
#include "select.h"

#include <stdio.h>
#include <string.h>

#define NAME_SHOWN_MAX 32 /* bytes of a bad name quoted back in the reason */

static const char *const service_names[ALLINONE_N_SERVICES] = {
    "order", "product", "payment", "delivery", "notification", "view", "gateway",
};

const char *allinone_service_name(enum allinone_service i)
{
    return i < ALLINONE_N_SERVICES ? service_names[i] : "?";
}

/* The index of the len bytes at name, or ALLINONE_N_SERVICES when no service has it. */
static enum allinone_service find_service(const char *name, size_t len)
{
    for (int i = 0; i < ALLINONE_N_SERVICES; i++) {
        if (strlen(service_names[i]) == len && memcmp(service_names[i], name, len) == 0) {
            return (enum allinone_service)i;
        }
    }
    return ALLINONE_N_SERVICES;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

hb_err_t allinone_select(const char *text, bool selected[ALLINONE_N_SERVICES], char *why,
                         size_t why_len)
{
    snprintf(why, why_len, "ok");
    for (int i = 0; i < ALLINONE_N_SERVICES; i++) {
        selected[i] = text == NULL;
    }
    if (text == NULL) {
        return HB_OK;
    }
    const char *item = text;
    for (;;) {
        const char *comma = strchr(item, ',');
        const char *end = comma ? comma : item + strlen(item);
        const char *start = item;
        while (start < end && is_blank(*start)) {
            start++;
        }
        while (end > start && is_blank(end[-1])) {
            end--;
        }
        size_t len = (size_t)(end - start);
        if (len == 0) {
            if (text[strspn(text, " \t")] == '\0') {
                snprintf(why, why_len,
                         "HAUSBUS_COMPONENTS is empty; unset it for all, or name some of: "
                         ALLINONE_NAMES_TEXT);
            } else {
                snprintf(why, why_len, "HAUSBUS_COMPONENTS has an empty name in \"%.64s\"", text);
            }
            return HB_ERR_INVAL;
        }
        enum allinone_service found = find_service(start, len);
        int shown = len < NAME_SHOWN_MAX ? (int)len : NAME_SHOWN_MAX;
        if (found == ALLINONE_N_SERVICES) {
            snprintf(why, why_len,
                     "HAUSBUS_COMPONENTS: unknown component \"%.*s\" (known: " ALLINONE_NAMES_TEXT
                     ")",
                     shown, start);
            return HB_ERR_INVAL;
        }
        if (selected[found]) {
            snprintf(why, why_len, "HAUSBUS_COMPONENTS names \"%.*s\" twice", shown, start);
            return HB_ERR_INVAL;
        }
        selected[found] = true;
        if (!comma) {
            return HB_OK;
        }
        item = comma + 1;
    }
}
