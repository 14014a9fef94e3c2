# tests: Check suites (check_*), integration scripts (it_*), fixtures,
# fuzz targets and benchmarks. Each part has its own fragment.
EXTRA_DIST += %reldir%/lib.sh %reldir%/tsan.supp %reldir%/fixtures %reldir%/fuzz %reldir%/bench/README.md \
	%reldir%/bench/bench_proxy_report.py %reldir%/bench/bench_proxy_proc.py
include %reldir%/client.mk
include %reldir%/devreg.mk
include %reldir%/registrar.mk
include %reldir%/routes_parse.mk
include %reldir%/routes_table.mk
include %reldir%/routes_pick.mk
include %reldir%/lb_config.mk
include %reldir%/lb_watch.mk
include %reldir%/lb_proxy.mk
include %reldir%/daemon_routes.mk
include %reldir%/daemon_load.mk
include %reldir%/daemon_self.mk
include %reldir%/health.mk
include %reldir%/health_it.mk
include %reldir%/hardening_it.mk
include %reldir%/bench_h1req.mk
include %reldir%/slowhttp.mk
include %reldir%/h11_diff.mk
