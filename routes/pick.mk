# routes/pick part: its sources (ROUTES_PICK_SOURCES += ...)
ROUTES_PICK_SOURCES += %reldir%/rt_pick.h %reldir%/rt_pick.c
