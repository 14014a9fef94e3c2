/*
 * fuzz_consul_json.c - libFuzzer target: every Consul JSON decoder gets
 * the same bytes (with no NUL after them), and whatever it decoded is
 * cleared again. A crash, leak, overread or hang is a finding; a clean
 * refusal is not. Seeds: tests/fixtures/consul.
 */
#include "registry-client/consul_json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct consul_json_err err = {{0}};
	struct consul_service_list services;
	struct consul_check_list checks;
	struct consul_catalog catalog;
	struct consul_kv_list kv;
	struct consul_self self;
	int b;

	if (consul_json_decode_health_service(buf, size, &services, &err) == 0)
		for (size_t i = 0; i < services.n; i++)
			(void)consul_checks_aggregate(services.v[i].checks,
						      services.v[i].nchecks);
	consul_service_list_clear(&services);

	if (consul_json_decode_checks(buf, size, &checks, &err) == 0)
		(void)consul_checks_aggregate(checks.v, checks.n);
	consul_check_list_clear(&checks);

	consul_json_decode_catalog_services(buf, size, &catalog, &err);
	consul_catalog_clear(&catalog);

	if (consul_json_decode_kv(buf, size, &kv, &err) == 0)
		for (size_t i = 0; i < kv.n; i++)
			if (kv.v[i].value && kv.v[i].value[kv.v[i].value_len] != '\0')
				abort(); /* the promised NUL after the value */
	consul_kv_list_clear(&kv);

	consul_json_decode_self(buf, size, &self, &err);
	consul_self_clear(&self);

	consul_json_decode_bool(buf, size, &b, &err);

	if (memchr(err.msg, '\0', sizeof(err.msg)) == NULL)
		abort(); /* an error text always ends inside its buffer */
	return 0;
}
