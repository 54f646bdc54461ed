# genq — hand-written Makefile.
#   make            build bin/genq, bin/genq-worker, bin/genq-mockllm
#   make test       unit + integration tests against a real redis-server
#   make test SAN=1 the same, built with ASan + UBSan (objects in build/san)
#   make demo       end-to-end run on local defaults (scripts/demo.sh)
#   make bench      benchmarks (bench/)
#   make format / format-check, make install PREFIX=/usr/local

CC      ?= cc
PREFIX  ?= /usr/local
PKGS    := hiredis libcurl libcjson libjwt libmicrohttpd inih

CFLAGS_BASE := -std=c11 -Wall -Wextra -Werror -Wformat=2 -Wstrict-prototypes \
               -Wwrite-strings -Wshadow -g -Icommon -Ibuild/gen \
               $(shell pkg-config --cflags $(PKGS))
LIBS := $(shell pkg-config --libs $(PKGS)) -lev -lssl -lcrypto -lm

ifeq ($(SAN),1)
  B      := build/san
  OPT    := -O1 -fsanitize=address,undefined -fno-sanitize-recover=all \
            -fno-omit-frame-pointer
  BIN    := build/san/bin
else
  B      := build/rel
  OPT    ?= -O2
  BIN    := bin
endif
CFLAGS  += $(CFLAGS_BASE) $(OPT)
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
ENQ_OBJ    := $(ENQ_SRC:%.c=$(B)/%.o)
MOCK_OBJ   := $(MOCK_SRC:%.c=$(B)/%.o)
# worker/ objects minus main, so tests can link the worker's modules
WORKER_LIB_OBJ := $(filter-out $(B)/worker/main.o,$(WORKER_OBJ))
MOCK_LIB_OBJ   := $(filter-out $(B)/tests/mock-llm/main.o,$(MOCK_OBJ))

PROGS := $(BIN)/genq $(BIN)/genq-worker $(BIN)/genq-mockllm
TESTS := $(if $(UNIT_SRC),$(BIN)/test-unit) $(if $(INTEG_SRC),$(BIN)/test-integration)

.PHONY: all test test-build demo bench format format-check install clean \
        valgrind chaos fuzz lint
all: $(PROGS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -Itests/mock-llm -c -o $@ $<

# Lua scripts are embedded as C strings (common/lua_scripts.h declares them).
build/gen/lua_scripts.c: $(LUA_SRC) scripts/embed-lua.sh
	@mkdir -p $(dir $@)
	sh scripts/embed-lua.sh $(LUA_SRC) > $@.tmp && mv $@.tmp $@
$(B)/gen/lua_scripts.o: build/gen/lua_scripts.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BIN)/genq: $(ENQ_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
$(BIN)/genq-worker: $(WORKER_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
$(BIN)/genq-mockllm: $(MOCK_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
$(BIN)/test-unit: $(UNIT_SRC:%.c=$(B)/%.o) $(COMMON_OBJ) $(WORKER_LIB_OBJ) $(MOCK_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(shell pkg-config --libs criterion)
$(BIN)/test-integration: $(INTEG_SRC:%.c=$(B)/%.o) $(COMMON_OBJ) $(MOCK_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(shell pkg-config --libs criterion)

test-build: $(PROGS) $(TESTS)

# The test runner starts its own redis-server and genq-mockllm on free
# loopback ports and tears them down afterwards.
test: test-build
	GENQ_BIN=$(BIN) sh tests/run.sh $(TESTS)

valgrind: all
	sh tests/valgrind-worker.sh

demo:
	sh scripts/demo.sh

bench: all
	sh bench/run.sh $(if $(QUICK),--quick)

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

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 bin/genq bin/genq-worker bin/genq-mockllm $(DESTDIR)$(PREFIX)/bin/
	if [ -d man ]; then install -d $(DESTDIR)$(PREFIX)/share/man/man1 && \
	    install -m 644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/; fi
	if [ -d packaging ]; then install -d $(DESTDIR)$(PREFIX)/share/genq && \
	    install -m 644 packaging/* $(DESTDIR)$(PREFIX)/share/genq/; fi

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
