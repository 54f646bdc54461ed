-- genq queue keys: after prelude.lua in every script but complete and
-- extend (common/scripts.c), before transitions.lua: the key names
-- claim.lua uses on every call besides prelude.lua's (each concatenation
-- costs a call ~0.5k instructions; transitions.lua has the ones only its
-- functions and the operator scripts use).
local K_READY = {PREFIX .. 'ready:high', PREFIX .. 'ready', PREFIX .. 'ready:low'}
local K_JOBS, K_DELAYED = PREFIX .. 'jobs', PREFIX .. 'delayed'
local K_PAUSED, K_SEQ = PREFIX .. 'paused', PREFIX .. 'seq'
