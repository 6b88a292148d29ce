/* CloudEvents 1.0 JSON envelopes, UUIDs, clocks and typed JSON field readers. */
#include "hausbus/envelope.h"
#include "hausbus/text.h"
#include "json_print_int.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* Random bytes for hb_uuid, taken from the kernel UUID_POOL_BYTES at a time: one getrandom
 * per 32 ids instead of one per id (each event emitted takes one). One pool per process
 * under a lock, not one per thread: a _Thread_local pool grew every thread's static TLS
 * block by a page, 1 MiB more RSS for the gateway's 256 idle workers (measured), while
 * the lock is held for a 16-byte copy. The pool would survive fork() and the child repeat
 * the parent's next ids; nothing of ours forks (run.sh, systemd or the pod start the
 * processes), so that does not arise. The ids are not secrets: holding the next few in
 * memory gives nothing away. */
#define UUID_POOL_BYTES 512
static struct {
    pthread_mutex_t lock;
    unsigned char bytes[UUID_POOL_BYTES];
    size_t left; /* unused bytes, at the end of bytes; under lock */
} uuid_pool = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Copies n <= UUID_POOL_BYTES random bytes to out, refilling the pool when it runs short.
 * getrandom on the urandom source does not fail once the kernel's pool is initialised
 * (it may return early on a signal, hence the loop). */
static void random_bytes(unsigned char *out, size_t n)
{
    pthread_mutex_lock(&uuid_pool.lock);
    if (uuid_pool.left < n) {
        size_t got = 0;
        while (got < sizeof(uuid_pool.bytes)) {
            ssize_t r = getrandom(uuid_pool.bytes + got, sizeof(uuid_pool.bytes) - got, 0);
            if (r > 0) {
                got += (size_t)r;
            }
        }
        uuid_pool.left = sizeof(uuid_pool.bytes);
    }
    memcpy(out, uuid_pool.bytes + sizeof(uuid_pool.bytes) - uuid_pool.left, n);
    uuid_pool.left -= n;
    pthread_mutex_unlock(&uuid_pool.lock);
}

void hb_uuid(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    random_bytes(b, sizeof(b));
    /* Version 7 (RFC 9562): the first 48 bits are the Unix time in ms, so ids made later
     * sort later. Every inbox is keyed by event id: time-ordered ids append at the end of
     * its B-tree, where random ones would dirty a different page (one more WAL write, and
     * a read once the inbox outgrows the page cache) for nearly every event. */
    uint64_t ms = (uint64_t)hb_wall_ms();
    for (int i = 5; i >= 0; i--) {
        b[i] = (unsigned char)(ms & 0xff);
        ms >>= 8;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x70); /* version 7 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* variant 10xx (RFC 4122) */
    size_t o = 0;
    for (size_t i = 0; i < sizeof(b); i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out[o++] = '-';
        }
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 0x0f];
    }
    out[o] = '\0';
}

/* Writes the n low decimal digits of v at p (zero-padded). */
static void put_digits(char *p, long v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

void hb_time_now(char *out, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    /* "YYYY-MM-DDTHH:MM:SS.mmmZ" by hand: strftime and snprintf cost more than the rest
     * of a new event's envelope. Years past 9999 are not ours to meet. */
    char text[] = "0000-00-00T00:00:00.000Z";
    put_digits(text, (long)tm.tm_year + 1900, 4);
    put_digits(text + 5, (long)tm.tm_mon + 1, 2);
    put_digits(text + 8, (long)tm.tm_mday, 2);
    put_digits(text + 11, (long)tm.tm_hour, 2);
    put_digits(text + 14, (long)tm.tm_min, 2);
    put_digits(text + 17, (long)tm.tm_sec, 2);
    put_digits(text + 20, ts.tv_nsec / 1000000L, 3);
    hb_strlcpy(out, text, len);
}

/* Reads n decimal digits at *p into *out and moves *p past them; false if one is not. */
static bool read_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') {
            return false;
        }
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

/* True when *p starts with c; moves past it. */
static bool read_char(const char **p, char c)
{
    if (**p != c) {
        return false;
    }
    (*p)++;
    return true;
}

hb_err_t hb_time_parse_ms(const char *text, int64_t *out)
{
    /* By hand, not sscanf: it runs for every event applied, and sscanf costs a
     * microsecond. */
    int y, mo, d, h, mi, sec, ms = 0;
    const char *p = text;
    if (!p || !read_digits(&p, 4, &y) || !read_char(&p, '-') || !read_digits(&p, 2, &mo) ||
        !read_char(&p, '-') || !read_digits(&p, 2, &d) || !read_char(&p, 'T') ||
        !read_digits(&p, 2, &h) || !read_char(&p, ':') || !read_digits(&p, 2, &mi) ||
        !read_char(&p, ':') || !read_digits(&p, 2, &sec)) {
        return HB_ERR_DECODE;
    }
    if (read_char(&p, '.') && !read_digits(&p, 3, &ms)) {
        return HB_ERR_DECODE;
    }
    if (strcmp(p, "Z") != 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 60 || y < 1970) {
        return HB_ERR_DECODE;
    }
    /* Days from the civil date (H. Hinnant's algorithm): no timegm, no TZ state. */
    int yy = mo <= 2 ? y - 1 : y;
    int era = yy / 400;
    int yoe = yy - era * 400;
    int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + doe - 719468;
    *out = ((days * 24 + h) * 60 + mi) * 60000LL + sec * 1000LL + ms;
    return HB_OK;
}

int64_t hb_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t hb_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t hb_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void hb_event_clear(struct hb_event *ev)
{
    cJSON_Delete(ev->data);
    memset(ev, 0, sizeof(*ev));
}

/* Copies member name of obj into out; optional members may be absent. */
static hb_err_t copy_str(const cJSON *obj, const char *name, bool required, char *out,
                         size_t cap)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!item) {
        return required ? HB_ERR_DECODE : HB_OK;
    }
    if (!cJSON_IsString(item) || strlen(item->valuestring) >= cap) {
        return HB_ERR_DECODE;
    }
    if (required && item->valuestring[0] == '\0') {
        return HB_ERR_DECODE;
    }
    hb_strlcpy(out, item->valuestring, cap); /* fits: measured above */
    return HB_OK;
}

hb_err_t hb_envelope_from_json(cJSON *root, struct hb_event *ev, const char **reason)
{
    const char *why = NULL;
    memset(ev, 0, sizeof(*ev));
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(root, "specversion");
    if (!cJSON_IsObject(root) || !cJSON_IsString(spec) || strcmp(spec->valuestring, "1.0") != 0) {
        why = "not a CloudEvent 1.0 (specversion)";
    } else if (copy_str(root, "id", true, ev->id, sizeof(ev->id)) != HB_OK) {
        why = "missing or oversized id";
    } else if (copy_str(root, "source", true, ev->source, sizeof(ev->source)) != HB_OK) {
        why = "missing or oversized source";
    } else if (copy_str(root, "type", true, ev->type, sizeof(ev->type)) != HB_OK) {
        why = "missing or oversized type";
    } else if (copy_str(root, "time", false, ev->time, sizeof(ev->time)) != HB_OK) {
        why = "time is not a short string";
    } else if (copy_str(root, "subject", false, ev->subject, sizeof(ev->subject)) != HB_OK) {
        why = "subject is not a short string";
    } else if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "data"))) {
        why = "data is missing or not an object";
    }
    if (why) {
        memset(ev, 0, sizeof(*ev));
        if (reason) {
            *reason = why;
        }
        return HB_ERR_DECODE;
    }
    ev->data = cJSON_DetachItemFromObjectCaseSensitive(root, "data");
    return HB_OK;
}

hb_err_t hb_envelope_decode(const char *payload, size_t len, struct hb_event *ev,
                            const char **reason)
{
    memset(ev, 0, sizeof(*ev));
    if (len > HB_PAYLOAD_MAX) {
        if (reason) {
            *reason = "payload over 64 KiB";
        }
        return HB_ERR_TOO_LARGE;
    }
    /* Not JSON, two events or junk after one, too deep, not UTF-8: not one CloudEvent. */
    cJSON *root = hb_json_parse_document(payload, len, reason);
    if (!root) {
        return HB_ERR_DECODE;
    }
    hb_err_t rc = hb_envelope_from_json(root, ev, reason);
    cJSON_Delete(root);
    return rc;
}

/* Appends the literal text to out. */
static bool put_literal(struct hb_json_out *out, const char *text)
{
    return hb_json_out_raw(out, text, strlen(text));
}

char *hb_envelope_encode(const struct hb_event *ev)
{
    /* Written straight out, not built as a cJSON object first (seven copied strings and
     * their frees, for one print): the same text, member for member, as that object's
     * cJSON_PrintUnformatted. Most envelopes fit in 512 bytes. */
    struct hb_json_out out;
    if (!hb_json_out_init(&out, 512)) {
        return NULL;
    }
    bool ok = put_literal(&out, "{\"specversion\":\"1.0\",\"id\":") &&
              hb_json_out_string(&out, ev->id) && put_literal(&out, ",\"source\":") &&
              hb_json_out_string(&out, ev->source) && put_literal(&out, ",\"type\":") &&
              hb_json_out_string(&out, ev->type) && put_literal(&out, ",\"time\":") &&
              hb_json_out_string(&out, ev->time) &&
              /* CloudEvents 1.0: a subject, when present, is non-empty; none means no order. */
              (!ev->subject[0] || (put_literal(&out, ",\"subject\":") &&
                                   hb_json_out_string(&out, ev->subject))) &&
              put_literal(&out, ",\"datacontenttype\":\"application/json\",\"data\":") &&
              (ev->data ? hb_json_out_value(&out, ev->data) : put_literal(&out, "{}")) &&
              put_literal(&out, "}");
    return hb_json_out_finish(&out, ok);
}

hb_err_t hb_event_init(struct hb_event *ev, const char *component, const char *type,
                       int64_t order_id, cJSON *data)
{
    memset(ev, 0, sizeof(*ev));
    if (!data) {
        data = cJSON_CreateObject();
        if (!data) {
            return HB_ERR_NOMEM;
        }
    }
    int n1 = snprintf(ev->source, sizeof(ev->source), "/hausbus/%s", component);
    size_t n2 = hb_strlcpy(ev->type, type, sizeof(ev->type));
    if (n1 < 0 || (size_t)n1 >= sizeof(ev->source) || n2 >= sizeof(ev->type)) {
        cJSON_Delete(data);
        return HB_ERR_INVAL;
    }
    if (order_id > 0) {
        snprintf(ev->subject, sizeof(ev->subject), "%lld", (long long)order_id);
    }
    hb_uuid(ev->id);
    hb_time_now(ev->time, sizeof(ev->time));
    ev->data = data;
    return HB_OK;
}

hb_err_t hb_json_int(const cJSON *obj, const char *name, int64_t min, int64_t max, int64_t *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsNumber(item)) {
        return HB_ERR_DECODE;
    }
    double v = item->valuedouble;
    /* 2^53 bounds the integers a double holds exactly. */
    if (!isfinite(v) || v != floor(v) || v < -9007199254740992.0 || v > 9007199254740992.0) {
        return HB_ERR_DECODE;
    }
    int64_t n = (int64_t)v;
    if (n < min || n > max) {
        return HB_ERR_DECODE;
    }
    *out = n;
    return HB_OK;
}

hb_err_t hb_json_str(const cJSON *obj, const char *name, size_t max_len, const char **out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsString(item) || item->valuestring[0] == '\0' ||
        strlen(item->valuestring) > max_len) {
        return HB_ERR_DECODE;
    }
    *out = item->valuestring;
    return HB_OK;
}

/* Adds item (NULL when its creation failed) under the uncopied name. */
static bool put_item(cJSON *obj, const char *name, cJSON *item)
{
    if (!item || !cJSON_AddItemToObjectCS(obj, name, item)) {
        cJSON_Delete(item);
        return false;
    }
    return true;
}

bool hb_json_put_int(cJSON *obj, const char *name, int64_t value)
{
    return put_item(obj, name, cJSON_CreateNumber((double)value));
}

bool hb_json_put_text(cJSON *obj, const char *name, const char *text)
{
    return put_item(obj, name, cJSON_CreateString(text));
}

bool hb_json_put_null(cJSON *obj, const char *name)
{
    return put_item(obj, name, cJSON_CreateNull());
}
