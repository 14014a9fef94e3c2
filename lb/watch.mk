# lb/watch part: LB_WATCH_SOURCES += ...
# The control thread's Consul side: watches (lb_watch), which instances
# count (lb_instances), the KV override text (lb_overrides), the no-route
# page (lb_noroute) and the rebuild into a published table (lb_rebuild).
LB_WATCH_SOURCES += %reldir%/lb_watch.h %reldir%/lb_watch.c \
	%reldir%/lb_watch_internal.h %reldir%/lb_rebuild.c \
	%reldir%/lb_instances.h %reldir%/lb_instances.c \
	%reldir%/lb_overrides.h %reldir%/lb_overrides.c \
	%reldir%/lb_noroute.h %reldir%/lb_noroute.c
