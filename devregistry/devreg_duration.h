/*
 * devreg_duration.h - Go time.Duration text, as Consul bodies and the
 * ?wait parameter carry it ("10s", "1m0s", "1.5h", "300ms").
 */
#ifndef DEVREG_DURATION_H
#define DEVREG_DURATION_H

#include <stddef.h>
#include <stdint.h>

#define DEVREG_NS_PER_MS INT64_C(1000000)
#define DEVREG_NS_PER_S INT64_C(1000000000)

/* Parse s the way Go's time.ParseDuration does: a sign, then one or more
 * decimal numbers with a unit (ns, us, µs, μs, ms, s, m, h); a bare "0" is
 * allowed. On success stores nanoseconds in *ns and returns 0. On failure
 * returns -EINVAL and writes Go's error text (`time: invalid duration "x"`,
 * `time: missing unit in duration "10"`, `time: unknown unit "x" in
 * duration "10x"`) into err (if err is not NULL). */
int devreg_duration_parse(const char *s, int64_t *ns, char *err, size_t errlen);

/* Write ns the way Go's Duration.String() does ("0s", "1.5s", "1m0s",
 * "300ms", "1h0m0s") into buf, which should hold 32 bytes. Returns buf. */
char *devreg_duration_format(int64_t ns, char *buf, size_t len);

/* The time package's quoting of s into buf: "…" with \" \\ escaped and
 * control or non-ASCII bytes as \xNN; truncated (still quoted) to fit. */
char *devreg_go_quote(const char *s, char *buf, size_t len);

#endif
