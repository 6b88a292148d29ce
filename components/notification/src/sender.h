/* The notification component's wiring of the notifier, in hausbus-notification and in the
 * all-in-one alike: the log notifier inline, or KakaoTalk from a sender thread of its own. */
#ifndef HAUSBUS_NOTIFICATION_SENDER_H
#define HAUSBUS_NOTIFICATION_SENDER_H

#include "hausbus/component.h"

/* Claimed messages in flight at once with the KakaoTalk notifier: queued, being sent, or
 * sent and waiting for the next tick to record them. A crash turns at most these into
 * FAILED "outcome unknown" (notification_recover), so the bound is small. */
#define SENDER_IN_FLIGHT_MAX 4

/* Rewrites def (a copy of notification_component) for the process: with HAUSBUS_KAKAO_URL
 * set, setup starts the KakaoTalk notifier on a sender thread, tick hands it claimed
 * messages and records what it did, teardown lets the attempt under way finish (it is
 * bounded by HAUSBUS_KAKAO_TIMEOUT_MS), records it and returns unstarted ones to PENDING.
 * Without it, def is left as is: the log notifier, inline. */
void notification_sender_wire(struct hb_component *def);

#endif
