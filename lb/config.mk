# lb/config part: the daemon's configuration (lb_config.h) and its man page.
LB_CONFIG_SOURCES += \
	%reldir%/lb_config.h %reldir%/lb_config.c \
	%reldir%/lb_config_internal.h %reldir%/lb_config_keys.c \
	%reldir%/lb_config_props.c %reldir%/lb_config_value.c
dist_man_MANS += man/switchyard.8
