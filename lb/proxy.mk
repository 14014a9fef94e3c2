# lb/proxy part: the data path. Workers (threads, listeners, table
# hand-over, graceful stop), client connections, the strict request
# parser, the request pipeline, upstream connection pools, the upstream
# HTTP/1.1 parser, head building, route-option rewriting, and the
# diagnostics and access logs.
LB_PROXY_SOURCES += %reldir%/lb_proxy.h %reldir%/lb_proxy.c \
	%reldir%/lb_worker.h %reldir%/lb_worker.c \
	%reldir%/lb_conn.h %reldir%/lb_conn.c \
	%reldir%/lb_h1req.h %reldir%/lb_h1req.c \
	%reldir%/lb_pool.h %reldir%/lb_pool.c \
	%reldir%/lb_http1.h %reldir%/lb_http1.c \
	%reldir%/lb_headers.h %reldir%/lb_headers.c \
	%reldir%/lb_rewrite.h %reldir%/lb_rewrite.c \
	%reldir%/lb_buf.h %reldir%/lb_buf.c \
	%reldir%/lb_log.h %reldir%/lb_log.c
