# routes: from Consul instances and the route language to an immutable
# route table, lookups in it and weighted target picking.
noinst_LTLIBRARIES += libroutes.la
libroutes_la_SOURCES = %reldir%/rt_cmd.h $(ROUTES_PARSE_SOURCES) \
	$(ROUTES_TABLE_SOURCES) $(ROUTES_PICK_SOURCES)
libroutes_la_CFLAGS = $(AM_CFLAGS)
libroutes_la_LIBADD = -lm
ROUTES_PARSE_SOURCES =
ROUTES_TABLE_SOURCES =
ROUTES_PICK_SOURCES =
include %reldir%/parse.mk
include %reldir%/table.mk
include %reldir%/pick.mk
