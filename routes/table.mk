# routes/table part: its sources (ROUTES_TABLE_SOURCES += ...)
# The immutable table: commands applied in order (rt_build), frozen into
# arrays in lookup order (rt_table), host and path indexes, weights, the
# dump and delta, and the mailboxes that hand tables to readers.
ROUTES_TABLE_SOURCES += %reldir%/rt_table.h %reldir%/rt_table_internal.h \
	%reldir%/rt_table.c %reldir%/rt_build.c %reldir%/rt_arena.c \
	%reldir%/rt_host.c %reldir%/rt_path.c %reldir%/rt_pathindex.c \
	%reldir%/rt_weight.c %reldir%/rt_dump.c %reldir%/rt_mailbox.c
