/* The KakaoTalk notifier: POSTs the "send to me" default text template with libcurl. */
#ifndef HAUSBUS_NOTIFIER_KAKAO_H
#define HAUSBUS_NOTIFIER_KAKAO_H

#include "kakao_settings.h"
#include "notifier.h"

/* Creates the notifier for settings (copied). Its send() blocks for at most
 * settings->timeout_ms, so it belongs on a thread of its own (sender.c). Call libcurl's
 * global_init (curl_api.h) first. Returns HB_ERR_NOMEM, or HB_ERR_IO when libcurl cannot
 * be loaded; *out is set only on success. */
hb_err_t notifier_kakao_create(const struct kakao_settings *settings, struct notifier **out);

/* Frees the notifier. Accepts NULL. */
void notifier_kakao_destroy(struct notifier *notifier);

#endif
