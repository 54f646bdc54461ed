# genq — hand-written Makefile.
#   make            build bin/genq, bin/genq-worker, bin/genq-mockllm
#   make test       unit + integration tests against a real redis-server
#                   (installs missing test tools first: scripts/deps.sh test)
#   make check      unit tests + the fast integration suites (under a minute)
#   make test SAN=1 the same, built with ASan + UBSan (objects in build/san)
#   make demo       end-to-end run on local defaults (scripts/demo.sh)
#   make bench      benchmarks (bench/)
#   make valgrind   genq-worker under valgrind (tests/scripts/valgrind-worker.sh)
#   make format / format-check, make install PREFIX=/usr/local
#   make WSTRICT=0  drops -Wmissing-prototypes -Wcast-qual -Wpointer-arith
#                   -Wundef (on by default, like every other warning: -Werror)

CC      ?= cc
PREFIX  ?= /usr/local
PKGS    := hiredis libcurl libcjson libjwt libmicrohttpd inih libpcre2-8
WSTRICT ?= 1

# pkg-config runs once, when a recipe first needs it, and quietly: `make
# demo` on a fresh machine installs the libraries before anything asks.
pc = $(shell pkg-config $(1) 2>/dev/null)
PKG_CFLAGS = $(eval PKG_CFLAGS := $(call pc,--cflags $(PKGS)))$(PKG_CFLAGS)
CRIT_LIBS  = $(eval CRIT_LIBS := $(call pc,--libs criterion))$(CRIT_LIBS)

CFLAGS_BASE = -std=c11 -Wall -Wextra -Werror -Wformat=2 -Wstrict-prototypes \
              -Wwrite-strings -Wshadow -g -Icommon -Ibuild/gen $(PKG_CFLAGS)
ifeq ($(WSTRICT),1)
  CFLAGS_BASE += -Wmissing-prototypes -Wcast-qual -Wpointer-arith -Wundef
endif
# What each binary links: the libraries its objects call, nothing more.
# common/ objects: hiredis, cJSON, libjwt (jwtmint), SHA1 (scripts).
PC_COMMON   = $(eval PC_COMMON := $(call pc,--libs hiredis libcjson libjwt))$(PC_COMMON)
PC_WORKER   = $(eval PC_WORKER := $(call pc,--libs libcurl libmicrohttpd inih libpcre2-8))$(PC_WORKER)
PC_MOCK     = $(eval PC_MOCK := $(call pc,--libs libcjson))$(PC_MOCK)
COMMON_LIBS = $(PC_COMMON) -lcrypto -lzstd -lm
WORKER_LIBS = $(PC_WORKER) -lev $(COMMON_LIBS)
MOCK_LIBS   = $(PC_MOCK) -lev -lm
# genq dashboard (enqueue-tool/dash_*.c): libmicrohttpd and threads
PC_DASH     = $(eval PC_DASH := $(call pc,--libs libmicrohttpd))$(PC_DASH)
GENQ_LIBS   = $(PC_DASH) -lpthread $(COMMON_LIBS)
# tests call into every module (and libcurl directly)
TEST_LIBS   = $(WORKER_LIBS) $(CRIT_LIBS)

ifeq ($(SAN),1)
  B      := build/san
  OPT    := -O1 -fsanitize=address,undefined -fno-sanitize-recover=all \
            -fno-omit-frame-pointer
  BIN    := build/san/bin
  # a test that preloads a library into a sanitized binary (libfaketime:
  # test_budget.c) must preload the ASan runtime first
  OPT    += -DGENQ_ASAN_LIB='"$(shell $(CC) -print-file-name=libasan.so)"'
else
  B      := build/rel
  OPT    ?= -O2
  BIN    := bin
endif
CFLAGS  += $(CFLAGS_BASE) $(OPT)
# Only tests and the mock see the mock's headers.
TEST_INC := -Itests/mock-llm
LDFLAGS += $(filter -fsanitize%,$(OPT))

LUA_SRC     := $(sort $(wildcard common/lua/*.lua))
COMMON_SRC  := $(sort $(wildcard common/*.c))
WORKER_SRC  := $(sort $(wildcard worker/*.c))
ENQ_SRC     := $(sort $(wildcard enqueue-tool/*.c))
MOCK_SRC    := $(sort $(wildcard tests/mock-llm/*.c))
UNIT_SRC    := $(sort $(wildcard tests/unit/*.c))
INTEG_SRC   := $(sort $(wildcard tests/integration/*.c))

COMMON_OBJ := $(COMMON_SRC:%.c=$(B)/%.o) $(B)/gen/lua_scripts.o
WORKER_OBJ := $(WORKER_SRC:%.c=$(B)/%.o)
ENQ_OBJ    := $(ENQ_SRC:%.c=$(B)/%.o) $(B)/gen/dash_assets.o
DASH_ASSETS := $(sort $(wildcard dashboard/*.html dashboard/*.js dashboard/*.css \
                 dashboard/*.svg))
MOCK_OBJ   := $(MOCK_SRC:%.c=$(B)/%.o)
# worker/ objects minus main, so tests can link the worker's modules
WORKER_LIB_OBJ := $(filter-out $(B)/worker/main.o,$(WORKER_OBJ))
# the mock's wire-format modules (mock*.c), without its server (main.c, srv_*.c)
MOCK_LIB_OBJ   := $(patsubst %.c,$(B)/%.o,$(wildcard tests/mock-llm/mock*.c))

# the common/ modules the mock uses
MOCK_COMMON_OBJ := $(B)/common/buf.o $(B)/common/jsonw.o

PROGS := $(BIN)/genq $(BIN)/genq-worker $(BIN)/genq-mockllm
TESTS := $(if $(UNIT_SRC),$(BIN)/test-unit) $(if $(INTEG_SRC),$(BIN)/test-integration)

.PHONY: all test test-deps test-build check demo bench format format-check \
        install clean valgrind chaos fuzz lint
all: $(PROGS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<
$(B)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TEST_INC) -MMD -MP -c -o $@ $<

# Lua scripts are embedded as C strings (common/lua_scripts.h declares them).
build/gen/lua_scripts.c: $(LUA_SRC) scripts/embed-lua.sh
	@mkdir -p $(dir $@)
	sh scripts/embed-lua.sh $(LUA_SRC) > $@.tmp && mv $@.tmp $@
$(B)/gen/lua_scripts.o: build/gen/lua_scripts.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The dashboard's page, script and style are embedded the same way.
build/gen/dash_assets.c: $(DASH_ASSETS) scripts/embed-assets.sh
	@mkdir -p $(dir $@)
	sh scripts/embed-assets.sh $(DASH_ASSETS) > $@.tmp && mv $@.tmp $@
$(B)/gen/dash_assets.o: build/gen/dash_assets.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The version, compiled in as GENQ_VERSION (common/version.c): VERSION,
# plus `git describe` of the checkout when there is one ("0.1.0+1a2b3c4",
# "-dirty" with local changes; other characters dropped).
# build/gen/genq_version.h is rewritten only when the string changes.
GENQ_VERSION := $(shell v=$$(cat VERSION); d=$$(git describe --always \
                  --dirty 2>/dev/null) && v="$$v+$$d"; \
                  printf '%s' "$$v" | tr -cd 'A-Za-z0-9.+_-')
build/gen/genq_version.h: FORCE
	@mkdir -p $(dir $@)
	@echo '#define GENQ_VERSION "$(GENQ_VERSION)"' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(B)/common/version.o: build/gen/genq_version.h
.PHONY: FORCE

$(BIN)/genq: $(ENQ_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(GENQ_LIBS)
$(BIN)/genq-worker: $(WORKER_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(WORKER_LIBS)
$(BIN)/genq-mockllm: $(MOCK_OBJ) $(MOCK_COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(MOCK_LIBS)
$(BIN)/test-unit: $(UNIT_SRC:%.c=$(B)/%.o) $(COMMON_OBJ) $(WORKER_LIB_OBJ) $(MOCK_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(TEST_LIBS)
$(BIN)/test-integration: $(INTEG_SRC:%.c=$(B)/%.o) $(COMMON_OBJ) $(MOCK_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(TEST_LIBS)

test-build: $(PROGS) $(TESTS)

# The test tools (scripts/deps.sh test) are installed, or named, before the
# build; a second make then reads the freshly installed libraries.
test-deps:
	@sh scripts/deps.sh test

# The test runner starts its own redis-server and genq-mockllm on free
# loopback ports and tears them down afterwards.
test: test-deps
	@$(MAKE) --no-print-directory test-build
	GENQ_BIN=$(BIN) sh tests/run.sh $(TESTS)

# Unit tests plus the fast integration suites (tests/run.sh --quick lists them).
check: test-deps
	@$(MAKE) --no-print-directory test-build
	GENQ_BIN=$(BIN) sh tests/run.sh --quick $(TESTS)

valgrind: test-deps
	@$(MAKE) --no-print-directory all
	GENQ_BIN=$(BIN) sh tests/run.sh --script tests/scripts/valgrind-worker.sh

demo:
	sh scripts/demo.sh

bench: all
	sh bench/run.sh $(if $(QUICK),--quick)
	bash bench/scale.sh $(if $(QUICK),--quick)
	bash bench/dashboard.sh $(if $(QUICK),--quick)
	bash bench/cluster.sh $(if $(QUICK),--quick)
	$(if $(GOVERNOR),bash bench/governor.sh)

chaos: all
	bash tests/chaos/run.sh $(if $(CHAOS_S),--seconds $(CHAOS_S))

# libFuzzer targets (clang): FUZZ_S seconds each (default 60).
fuzz:
	bash tests/fuzz/run.sh $(if $(FUZZ_S),$(FUZZ_S),60)

# Static analysis: cppcheck and clang-tidy over our sources.
lint:
	bash tests/lint.sh

FMT_SRC = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FMT_SRC)
format-check:
	clang-format --dry-run --Werror $(FMT_SRC)

# The product only: genq-mockllm is a test tool and stays in $(BIN).
install: $(BIN)/genq $(BIN)/genq-worker
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BIN)/genq $(BIN)/genq-worker $(DESTDIR)$(PREFIX)/bin/
	if [ -d man ]; then install -d $(DESTDIR)$(PREFIX)/share/man/man1 && \
	    install -m 644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/; fi
	if [ -d packaging ]; then install -d $(DESTDIR)$(PREFIX)/share/genq && \
	    install -m 644 packaging/* $(DESTDIR)$(PREFIX)/share/genq/; fi

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
