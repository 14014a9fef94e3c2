/*
 * rt_cmd.h - route commands: what rt_tags generates from Consul instances,
 * what rt_parse reads from the route language, and what rt_table applies.
 *
 * The language is fabio's:
 *   route add <svc> <src> <dst>[ weight <w>][ tags "<t1>,<t2>"][ opts "k=v k2=v2"]
 *   route del <svc>[ <src>[ <dst>]]
 *   route del <svc> tags "<t1>,<t2>"
 *   route del tags "<t1>,<t2>"
 *   route weight <svc> <src> weight <w>[ tags "<t1>,<t2>"]
 *   route weight <src> weight <w> tags "<t1>,<t2>"
 * src is host/path, /path, host or :port. A command owns all its strings;
 * rt_cmd_list_clear() frees them (NULL-safe, idempotent). A command whose
 * block is set keeps its strings in storage shared with other commands
 * (it holds a reference to it): to replace one of them with free() and a
 * new string, rt_cmd_unpack() it first.
 */
#ifndef RT_CMD_H
#define RT_CMD_H

#include <stddef.h>
#include <stdint.h>

enum rt_cmd_kind {
	RT_CMD_ADD = 1,
	RT_CMD_DEL,
	RT_CMD_WEIGHT
};

enum rt_proto {
	RT_PROTO_HTTP = 0,
	RT_PROTO_HTTPS,
	RT_PROTO_TCP,
	RT_PROTO_GRPC,
	RT_PROTO_GRPCS
};

/* An address block of allow= / deny=: IPv4 (family 4, 4 bytes used) or
 * IPv6 (family 6); a bare address is /32 or /128. */
struct rt_cidr {
	uint8_t family;
	uint8_t prefix_len;
	uint8_t addr[16];
};

/* The options of a `route add` (opts "...", or the words after a tag's
 * route part). Unset strings are NULL. */
struct rt_opts {
	char *strip;             /* strip=/prefix */
	char *prepend;           /* prepend=/prefix */
	enum rt_proto proto;     /* proto= (default http) */
	int tlsskipverify;       /* tlsskipverify=true */
	char *host;              /* host=dst or host=<name> */
	int redirect_code;       /* 300..399 from redirect=CODE[,URL]; 0: none */
	char *redirect_url;      /* the URL of a tag's redirect=CODE,URL */
	struct rt_cidr *allow;   /* allow=ip:CIDR,... */
	size_t nallow;
	struct rt_cidr *deny;    /* deny=ip:CIDR,... */
	size_t ndeny;
	char *register_name;     /* register=<name>: parsed, not acted on */
	char *check;             /* check=/path or check=tcp (active probes) */
	char *raw;               /* the options as written, for the dump */
};

struct rt_cmd {
	enum rt_cmd_kind kind;
	unsigned line;           /* 1-based line in the text; 0 when generated */
	char *service;           /* NULL in the service-less del/weight forms */
	char *instance;          /* generated adds: the Consul service ID (target
				  * identity with the address); NULL from text */
	char *src;               /* as written; NULL in `del <svc>` / `del tags` */
	char *host;              /* lower-cased, "" for none, ":port" for a
				  * :port src; NULL when no src */
	char *path;              /* "/path"; "/" for host-only; "" for :port */
	char *dst;               /* the URL (add; optional in del) */
	double weight;           /* `weight <w>` or weight= ; valid when has_weight */
	int has_weight;
	int consul_down;         /* generated adds: Consul's status rules exclude
				  * every instance of the service, so the
				  * target is kept, marked and never given
				  * traffic (the route answers 503 instead of
				  * vanishing); 0 from text */
	unsigned consul_weight;  /* generated adds: the instance's Consul
				  * weight (Weights.Passing or .Warning), which
				  * scales its share among the route's dynamic
				  * targets; 0: not from Consul, counts as 1 */
	char **tags;             /* tags "a,b", split and trimmed */
	size_t ntags;
	struct rt_opts opts;     /* add only */
	void *block;             /* NULL, or the storage that holds service,
				  * instance, src, host, path, dst, the tags
				  * array and the tags (commands made by
				  * rt_tags), shared with other commands: the
				  * command holds a reference, which
				  * rt_cmd_clear drops instead of freeing
				  * those fields one by one. Options are
				  * always allocated on their own. */
};

/* Where and why one line was rejected: "line 3: route add: bad weight
 * \"x\"". field names the word that was wrong. */
struct rt_err {
	unsigned line;
	char field[32];
	char msg[160];
};

struct rt_cmd_list {
	struct rt_cmd *v;
	size_t n;
	size_t cap;
	struct rt_err *errs;     /* lines that were skipped */
	size_t nerrs;
	size_t errs_cap;
	void *store;             /* the storage new commands' strings are
				  * carved from (rt_cmd_store); the list
				  * holds a reference until it is cleared */
};

/* Append an empty command (zeroed) and return it; NULL when out of memory. */
struct rt_cmd *rt_cmd_list_push(struct rt_cmd_list *l);
/* Record a rejected line. Returns 0 or -ENOMEM. */
int rt_cmd_list_error(struct rt_cmd_list *l, unsigned line, const char *field,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void rt_cmd_list_clear(struct rt_cmd_list *l);
/* Free one command's strings, tags and options and zero it (NULL-safe). */
void rt_cmd_clear(struct rt_cmd *c);
/* Give each string of a packed command (block set) an allocation of its
 * own and drop its reference to the storage, so that fields can be
 * replaced one by one. A no-op for other commands. 0, or -ENOMEM with c
 * unchanged. */
int rt_cmd_unpack(struct rt_cmd *c);
/*
 * For makers of commands: size bytes (aligned for pointers) for the
 * strings of c, which has no block yet, carved from l's storage: tens of
 * thousands of commands then cost a few hundred allocations. c->block is
 * set and holds a reference; the memory lives until the last command
 * holding it is cleared, wherever the commands were moved. NULL when out
 * of memory.
 */
void *rt_cmd_store(struct rt_cmd_list *l, struct rt_cmd *c, size_t size);
/* Deep copy of a command into dst (overwritten, not freed first), each
 * string allocated on its own (dst->block NULL); 0 or -ENOMEM, dst zeroed
 * on failure. */
int rt_cmd_copy(struct rt_cmd *dst, const struct rt_cmd *src);
void rt_opts_clear(struct rt_opts *o);
/* Deep copy of options; 0 or -ENOMEM. */
int rt_opts_copy(struct rt_opts *dst, const struct rt_opts *src);

/* The command in the route language, one line without newline, as fabio
 * prints it: route add web example.com/app http://10.0.0.2:8080/ weight 0.1
 * tags "canary" opts "strip=/app". Caller frees; NULL when out of memory. */
char *rt_cmd_format(const struct rt_cmd *c);

#endif
