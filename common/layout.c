/* The Redis layout version check shared by `genq` (rclient.c) and the
 * worker (worker/rconn.c): one command on connect, one message on refusal,
 * and the upgrades from layouts 1 to 4 (layout.h). */
#include "fmacros.h"

#include <stdio.h>
#include <string.h>

#include "keys.h"
#include "layout.h"

void
layout_commands(const char *set[LAYOUT_SET_ARGC],
                const char *get[LAYOUT_GET_ARGC])
{
    set[0] = "SET";
    set[1] = KEY_LAYOUT;
    set[2] = LAYOUT_VERSION;
    set[3] = "NX";
    get[0] = "GET";
    get[1] = KEY_LAYOUT;
}

int
layout_check(const char *held, const char *where, char *err, size_t errlen)
{
    if (!held || !strcmp(held, LAYOUT_VERSION))
        return 0;
    if (!strcmp(held, "1") || !strcmp(held, "2") || !strcmp(held, "3") ||
        !strcmp(held, "4"))
        return 1;
    snprintf(err, errlen,
             "Redis at %s holds genq layout version %.40s; this genq knows "
             "layout " LAYOUT_VERSION,
             where, held);
    return -1;
}

/* KEYS: old/new pairs (caps, day, month), then the layout key; ARGV[1] the
 * new version. From 1: the renames (a new name that exists already is
 * kept, never overwritten); from 2, 3 and 4 nothing to move (layout.h).
 * Returns the version held afterwards. */
static const char upgrade_lua[] =
    "local v = redis.call('GET', KEYS[7])\n"
    "if v ~= '1' and v ~= '2' and v ~= '3' and v ~= '4' then return v end\n"
    "if v == '1' then\n"
    "  for i = 1, 5, 2 do\n"
    "    if redis.call('EXISTS', KEYS[i]) == 1 and\n"
    "       redis.call('EXISTS', KEYS[i + 1]) == 0 then\n"
    "      redis.call('RENAME', KEYS[i], KEYS[i + 1])\n"
    "    end\n"
    "  end\n"
    "end\n"
    "redis.call('SET', KEYS[7], ARGV[1])\n"
    "return ARGV[1]\n";

int
layout_upgrade_argv(const char *av[LAYOUT_UPGRADE_ARGC],
                    struct layout_upgrade *s, long long now)
{
    key_budget_day(s->day[1], sizeof(s->day[1]), now, NULL);
    key_budget_month(s->month[1], sizeof(s->month[1]), now, NULL);
    snprintf(s->day[0], sizeof(s->day[0]), KEY_V1_BUDGET_DAY_PREFIX "%s",
             s->day[1] + sizeof(KEY_BUDGET_DAY_PREFIX) - 1);
    snprintf(s->month[0], sizeof(s->month[0]), KEY_V1_BUDGET_MONTH_PREFIX "%s",
             s->month[1] + sizeof(KEY_BUDGET_MONTH_PREFIX) - 1);
    av[0] = "EVAL";
    av[1] = upgrade_lua;
    av[2] = "7";
    av[3] = KEY_V1_BUDGET_CAPS;
    av[4] = KEY_BUDGET_CAPS;
    av[5] = s->day[0];
    av[6] = s->day[1];
    av[7] = s->month[0];
    av[8] = s->month[1];
    av[9] = KEY_LAYOUT;
    av[10] = LAYOUT_VERSION;
    return 11;
}
