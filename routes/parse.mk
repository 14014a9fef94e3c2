# routes/parse part: its sources (ROUTES_PARSE_SOURCES += ...)
# Commands (rt_cmd), URLs (rt_url), options (rt_opts), the route language
# (rt_parse) and Consul tags (rt_tags).
ROUTES_PARSE_SOURCES += %reldir%/rt_cmd.c \
	%reldir%/rt_url.h %reldir%/rt_url.c \
	%reldir%/rt_opts.h %reldir%/rt_opts.c \
	%reldir%/rt_parse.h %reldir%/rt_parse.c
ROUTES_PARSE_SOURCES += %reldir%/rt_tags.h %reldir%/rt_tags.c
