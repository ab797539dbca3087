# classbill: bill an online classroom service from its event rows, in
# PostgreSQL.  Build with PGXS against PostgreSQL 15 (the default), 17 or
# 18 (what differs between them is in src/compat.h):
#     make && make install && make installcheck
#     make PG_CONFIG=/usr/lib/postgresql/17/bin/pg_config ...
EXTENSION  = classbill
EXTVERSION = 1.2
MODULE_big = classbill

# Plain C, no PostgreSQL types: the rules themselves (fuzzed alone).
CORE_OBJS = \
	src/account_codec.o \
	src/concurrency.o \
	src/drawdown.o \
	src/room_state.o \
	src/state_codec.o \
	src/storage.o \
	src/sweep.o \
	src/usage_value.o

# fmgr glue.
GLUE_OBJS = \
	src/account_peak.o \
	src/calendar.o \
	src/chain.o \
	src/classbill.o \
	src/digest.o \
	src/drawdown_sql.o \
	src/event_input.o \
	src/ledger.o \
	src/storage_agg.o \
	src/tier.o \
	src/units_sql.o \
	src/usage_agg.o \
	src/usage_type.o

OBJS = $(CORE_OBJS) $(GLUE_OBJS)

# The install script is assembled from one file per concern.
INSTALL_PARTS = \
	sql/install/header.sql \
	sql/install/units.sql \
	sql/install/tier.sql \
	sql/install/usage.sql \
	sql/install/rating.sql \
	sql/install/limits.sql \
	sql/install/sources.sql \
	sql/install/storage.sql \
	sql/install/ledger.sql \
	sql/install/checks.sql \
	sql/install/statements.sql \
	sql/install/advisor.sql \
	sql/install/trust.sql \
	sql/install/compat.sql \
	sql/install/columns.sql \
	sql/install/privileges.sql
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql sql/$(EXTENSION)--1.1--$(EXTVERSION).sql

# Released versions: their install and upgrade scripts are kept as
# shipped, and each next version is reached by an upgrade script (ALTER
# EXTENSION classbill UPDATE).
DATA = \
	sql/$(EXTENSION)--1.0.sql \
	sql/$(EXTENSION)--1.1.sql \
	sql/$(EXTENSION)--1.0--1.1.sql

# pg_regress: test/sql/<test>.sql against test/expected/<test>.out
REGRESS = \
	tier \
	usage_sessions \
	usage_days \
	usage_peak \
	usage_quality \
	usage_type \
	usage_rollup \
	rating \
	drawdown \
	limits \
	sources \
	storage \
	ledger \
	guard_rails \
	change_detection \
	held_back \
	advisor \
	privileges \
	attacks \
	interface \
	usage_parallel \
	bad_input \
	hostile
REGRESS_OPTS = --inputdir=test --load-extension=$(EXTENSION)

# pg_isolation_regress: test/specs/<test>.spec against test/expected/<test>.out
ISOLATION = close_concurrent close_late
ISOLATION_OPTS = --inputdir=test

PG_CFLAGS = -Wall -Wextra -Werror \
	-Wno-unused-parameter -Wno-sign-compare -Wno-missing-field-initializers

# Export only what PostgreSQL looks up (the SQL-callable functions, the
# magic block, _PG_init); calls between classbill's own files then go
# straight, not through the PLT.  PostgreSQL 16 and later do this by
# default (PGXS adds -fvisibility=hidden, and c.h defines PGDLLEXPORT just
# so, unless it is defined already): the same flags, no redefinition.
PG_CFLAGS += -fvisibility=hidden
PG_CPPFLAGS = -D'PGDLLEXPORT=__attribute__((visibility("default")))'

# make SANITIZE=undefined: the build test/sanitize.sh tests.
ifdef SANITIZE
PG_CFLAGS += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer -g
SHLIB_LINK += -fsanitize=$(SANITIZE)
endif

# JIT bitcode would need clang for nothing classbill gains from.
override with_llvm = no

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

sql/$(EXTENSION)--$(EXTVERSION).sql: $(INSTALL_PARTS)
	cat $^ > $@

# The upgrade from 1.1: its first part, the install script without what
# 1.1 already has (sql/upgrade/from-install.awk), its last part.
UPGRADE_1_1 = sql/upgrade/1.1--1.2-before.sql sql/upgrade/from-install.awk sql/upgrade/1.1--1.2-after.sql
sql/$(EXTENSION)--1.1--$(EXTVERSION).sql: $(UPGRADE_1_1) $(INSTALL_PARTS)
	{ cat sql/upgrade/1.1--1.2-before.sql; cat $(INSTALL_PARTS) | awk -f sql/upgrade/from-install.awk; \
	  cat sql/upgrade/1.1--1.2-after.sql; } > $@

# Every object depends on the headers it may include.
$(OBJS): $(wildcard src/*.h)
