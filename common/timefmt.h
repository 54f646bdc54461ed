/* Wall-clock time in epoch milliseconds, monotonic seconds, and RFC 3339
 * timestamps ("2025-01-31T09:00:00.000Z") parsed and formatted at ms
 * precision. */
#ifndef GENQ_TIMEFMT_H
#define GENQ_TIMEFMT_H

#include <stdint.h>

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). Can't fail. */
int64_t time_now_ms(void);

/* Seconds on CLOCK_MONOTONIC, for timeouts and elapsed times. Can't fail. */
double time_mono_s(void);

/* Parse an RFC 3339 date-time into epoch ms: YYYY-MM-DD, 'T' (or 't' or a
 * space), hh:mm:ss, optional fraction (digits past ms are truncated), then
 * 'Z'/'z' or +hh:mm/-hh:mm. Years 0000..9999; days checked against the month
 * (leap years included); second 60 (a leap second) is accepted and counts as
 * the next second. Returns 0 and sets *ms, or -1 (nothing stored) when s is
 * NULL or not such a timestamp. */
int timefmt_rfc3339_parse(const char *s, int64_t *ms);

/* Format epoch ms as UTC "YYYY-MM-DDThh:mm:ss.mmmZ" (24 characters) into out,
 * NUL-terminated. Years outside 0000..9999 print with more digits or a sign
 * and still fit. Can't fail. */
void timefmt_rfc3339(int64_t ms, char out[32]);

#endif
