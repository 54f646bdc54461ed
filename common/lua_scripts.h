/* Lua script sources embedded from common/lua/ (build/gen/lua_scripts.c). */
#ifndef GENQ_LUA_SCRIPTS_H
#define GENQ_LUA_SCRIPTS_H

extern const char lua_prelude[];
extern const char lua_queue_keys[];
extern const char lua_transitions[];
extern const char lua_oplib[];
extern const char lua_enqueue[];
extern const char lua_claim[];
extern const char lua_extend[];
extern const char lua_complete[];
extern const char lua_fail[];
extern const char lua_maintain[];
extern const char lua_inspect[];
extern const char lua_stats[];
extern const char lua_cancel[];
extern const char lua_pause[];
extern const char lua_dlq_page[];
extern const char lua_dlq_requeue[];
extern const char lua_dlq_purge[];
extern const char lua_results_page[];
extern const char lua_release[];
extern const char lua_stage[];
extern const char lua_budget[];
extern const char lua_anomaly[];
extern const char lua_intake[];
extern const char lua_limiter[];
extern const char lua_batch_record[];
extern const char lua_batch_lease[];
extern const char lua_batch_done[];
extern const char lua_ready_find[];

extern const char lua_tmplstats[];
extern const char lua_review_page[];
extern const char lua_review_approve[];
extern const char lua_review_reject[];

#endif
