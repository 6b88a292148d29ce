/* Built without libpq (libpq-dev): a postgresql:// URL is refused with the reason. */
#include "hausbus/log.h"
#include "store_int.h"

hb_err_t hb_store_pg_open(struct hb_store *st, const char *url,
                          const struct hb_store_options *opt)
{
    (void)st;
    (void)url;
    (void)opt;
    HB_LOGE(0, "HAUSBUS_DATABASE_URL names PostgreSQL, but this build has no PostgreSQL"
               " backend: build where libpq-dev is installed");
    return HB_ERR_DB;
}
