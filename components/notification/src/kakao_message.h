/* The KakaoTalk "send to me" request, built without I/O: the text template, the
 * form-encoded body and what an answer means. */
#ifndef HAUSBUS_KAKAO_MESSAGE_H
#define HAUSBUS_KAKAO_MESSAGE_H

#include "notifier.h"

#define KAKAO_BUTTON_TITLE "주문 보기"

/* The default text template of msg (developers.kakao.com, message-template/default):
 * {"object_type":"text","text":msg->text,"link":{"web_url":U,"mobile_web_url":U},
 *  "button_title":KAKAO_BUTTON_TITLE} with U = order_url_base "/" order id.
 * Returns a malloc'd string (free it with free()), or NULL on allocation failure. */
char *kakao_template_json(const struct notification_msg *msg, const char *order_url_base);

/* "template_object=" followed by template_json percent-encoded for
 * application/x-www-form-urlencoded (every byte but A-Z a-z 0-9 - . _ ~ becomes %XX).
 * Returns a malloc'd string (free()), or NULL on allocation failure. */
char *kakao_form_body(const char *template_json);

/* How the HTTP exchange ended, before any status code. */
enum kakao_transport {
    KAKAO_TRANSPORT_OK,        /* an HTTP answer came back */
    KAKAO_TRANSPORT_TRANSIENT, /* could not connect, reset, timed out: worth another try */
    KAKAO_TRANSPORT_FATAL,     /* malformed URL, TLS verification, ...: retrying won't help */
};

/* The outcome of one attempt: 2xx sent; 5xx and transient transport errors retried; any
 * other status (4xx: 401 bad token, 400 bad template; 3xx: wrong URL) failed for good. */
enum notifier_outcome kakao_outcome(enum kakao_transport transport, long http_status);

#endif
