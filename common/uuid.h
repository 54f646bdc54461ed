/* RFC 9562 UUID version 7 ids: 48-bit Unix ms timestamp, then a 12-bit
 * counter, then 62 random bits; lowercase 8-4-4-4-12 text. */
#ifndef GENQ_UUID_H
#define GENQ_UUID_H

#define UUID_STR_LEN 36 /* without the NUL */

/* Write a new UUIDv7 to out (36 characters + NUL). Ids made by one thread
 * strictly increase (as strings and as bytes), even within a millisecond or
 * when the clock steps back (RFC 9562 section 6.2, method 1: a 12-bit counter
 * seeded at random each millisecond, borrowing the next millisecond when it
 * overflows). Randomness comes from getrandom(2), refilled after fork(). This
 * function can't fail; it aborts only if the kernel offers no randomness at
 * all (no getrandom(2) and no /dev/urandom). */
void uuid7_new(char out[37]);

/* 1 when s is a lowercase or uppercase UUIDv7 in 8-4-4-4-12 form with the
 * RFC 9562 variant, 0 when not. Can't fail. */
int uuid7_valid(const char *s);

#endif
