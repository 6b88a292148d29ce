/* libcurl's functions through dlopen(), so only a process that sends KakaoTalk messages
 * pays for loading it (curl_api.h says why). */
#include "curl_api.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "hausbus/log.h"

#define CURL_SONAME "libcurl.so.4" /* Debian's libcurl4, the ABI of libcurl4-openssl-dev */

static struct curl_api api;
static bool api_loaded;
_Static_assert(sizeof(void *) == sizeof(api.global_init), "dlsym's void * holds a function");

/* One row per function: its name in libcurl and where in api it goes. */
static const struct {
    const char *name;
    size_t offset;
} api_symbols[] = {
    {"curl_global_init", offsetof(struct curl_api, global_init)},
    {"curl_global_cleanup", offsetof(struct curl_api, global_cleanup)},
    {"curl_easy_init", offsetof(struct curl_api, easy_init)},
    {"curl_easy_setopt", offsetof(struct curl_api, easy_setopt)},
    {"curl_easy_perform", offsetof(struct curl_api, easy_perform)},
    {"curl_easy_getinfo", offsetof(struct curl_api, easy_getinfo)},
    {"curl_easy_cleanup", offsetof(struct curl_api, easy_cleanup)},
    {"curl_easy_strerror", offsetof(struct curl_api, easy_strerror)},
    {"curl_slist_append", offsetof(struct curl_api, slist_append)},
    {"curl_slist_free_all", offsetof(struct curl_api, slist_free_all)},
};

hb_err_t curl_api_load(const struct curl_api **out)
{
    if (api_loaded) {
        *out = &api;
        return HB_OK;
    }
    /* Never closed: libcurl and OpenSSL keep process-wide state until exit. */
    void *lib = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        HB_LOGE(0, "cannot load %s for the kakaotalk notifier: %s", CURL_SONAME, dlerror());
        return HB_ERR_IO;
    }
    struct curl_api loaded;
    for (size_t i = 0; i < sizeof(api_symbols) / sizeof(api_symbols[0]); i++) {
        void *fn = dlsym(lib, api_symbols[i].name);
        if (!fn) {
            HB_LOGE(0, "%s has no %s: %s", CURL_SONAME, api_symbols[i].name, dlerror());
            return HB_ERR_IO;
        }
        /* POSIX guarantees a function pointer survives the trip through void *. */
        memcpy((char *)&loaded + api_symbols[i].offset, &fn, sizeof(fn));
    }
    api = loaded;
    api_loaded = true;
    *out = &api;
    return HB_OK;
}
