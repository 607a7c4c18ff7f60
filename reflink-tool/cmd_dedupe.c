// SPDX-License-Identifier: MIT
/* dedupe: FIDEDUPERANGE from one source range into many destinations. */
#include <stdlib.h>
#include <string.h>

#include "reflink_priv.h"

const char *const cmd_dedupe_usage[] = {
	"dedupe [options] SRC SRC_OFF LEN DST DST_OFF [DST DST_OFF...]",
	"",
	"Share [SRC_OFF, SRC_OFF+LEN) of SRC with the same-sized range of each",
	"DST at DST_OFF where the bytes are equal (FIDEDUPERANGE). The kernel",
	"compares the data; a range that differs is reported and left alone.",
	"Long ranges are split into calls the kernel accepts. Destinations are",
	"opened read-only where the kernel allows it (owner or CAP_SYS_ADMIN).",
	NULL
};

const struct rl_option cmd_dedupe_options[] = {
	RL_OPT_JSON_ENTRY,
	RL_OPT_HELP_ENTRY,
	RL_OPT_END
};

int cmd_dedupe(const struct rl_cmd *cmd, int argc, char **argv)
{
	struct rl_file *src = NULL, **dsts;
	struct rl_dedupe_result *res;
	struct rl_json *js = NULL;
	uint64_t soff, len, *offs;
	unsigned int n, i, ok = 0;
	int *openerr, c, err, ret = RL_EXIT_OK;
	char msg[256];

	while ((c = rl_getopt(cmd, argc, argv)) != -1) {
		if (c == OPT_JSON && !js)
			js = rl_json_new(stdout);
	}
	argc -= optind;
	argv += optind;
	if (argc < 5 || (argc - 3) % 2)
		rl_usage_error(cmd, "dedupe: need SRC SRC_OFF LEN and DST DST_OFF pairs");
	if (parse_size(argv[1], &soff))
		rl_usage_error(cmd, "dedupe: bad SRC_OFF '%s'", argv[1]);
	if (parse_size(argv[2], &len))
		rl_usage_error(cmd, "dedupe: bad LEN '%s'", argv[2]);
	n = (argc - 3) / 2;
	dsts = xcalloc(n, sizeof(*dsts));
	offs = xcalloc(n, sizeof(*offs));
	openerr = xcalloc(n, sizeof(*openerr));
	res = xcalloc(n, sizeof(*res));
	for (i = 0; i < n; i++)
		if (parse_size(argv[4 + 2 * i], &offs[i]))
			rl_usage_error(cmd, "dedupe: bad DST_OFF '%s'", argv[4 + 2 * i]);
	if (rl_backend_begin(true)) {
		free(js);
		ret = RL_EXIT_FAIL;
		js = NULL;
		n = 0;
		goto out;
	}

	err = rl_ops->open(argv[0], RL_OPEN_READ, &src);
	if (err) {
		error("dedupe %s: open: %s", argv[0], rl_errmsg(err, NULL, msg, sizeof(msg)));
		if (js) {
			rl_json_obj_begin(js, NULL);
			rl_json_str(js, "command", "dedupe");
			rl_json_str(js, "src", argv[0]);
			rl_json_str(js, "status", "error");
			rl_json_error(js, err);
			rl_json_obj_end(js);
		}
		ret = RL_EXIT_FAIL;
		goto out;
	}
	/* LEN 0 means up to the source's end of file, as for clone-range. */
	if (len == 0 && (uint64_t)src->st.st_size > soff)
		len = src->st.st_size - soff;
	/* Open every destination; a failed one is reported, not fatal. */
	{
		struct rl_file **live = xcalloc(n, sizeof(*live));
		uint64_t *liveoff = xcalloc(n, sizeof(*liveoff));
		struct rl_dedupe_result *liveres = xcalloc(n, sizeof(*liveres));
		unsigned int nl = 0, j = 0;

		for (i = 0; i < n; i++) {
			openerr[i] = rl_ops->open(argv[3 + 2 * i], RL_OPEN_DEDUPE_DST, &dsts[i]);
			if (openerr[i]) {
				error("dedupe %s -> %s: open %s: %s", argv[0], argv[3 + 2 * i],
				      argv[3 + 2 * i], rl_errmsg(openerr[i], "dedupe", msg, sizeof(msg)));
				continue;
			}
			live[nl] = dsts[i];
			liveoff[nl++] = offs[i];
		}
		if (nl)
			rl_dedupe(src, soff, len, live, liveoff, nl, liveres);
		for (i = 0; i < n; i++)
			if (!openerr[i])
				res[i] = liveres[j++];
		free(live);
		free(liveoff);
		free(liveres);
	}

	if (js) {
		rl_json_obj_begin(js, NULL);
		rl_json_str(js, "command", "dedupe");
		rl_json_str(js, "src", argv[0]);
		rl_json_u64(js, "src_offset", soff);
		rl_json_u64(js, "length", len);
		rl_json_arr_begin(js, "destinations");
	}
	for (i = 0; i < n; i++) {
		const char *dp = argv[3 + 2 * i];
		struct rl_dedupe_result *r = &res[i];
		int e = openerr[i] ? openerr[i] : r->error;
		const char *status;

		if (e) {
			status = "error";
			if (!openerr[i])
				rl_report_range("dedupe", src, dsts[i], r->error_off,
						offs[i] + len, e);
		} else if (r->differs) {
			status = "differs";
		} else if (r->deduped < len) {
			status = "short";
		} else {
			status = "deduped";
			ok++;
		}
		if (strcmp(status, "deduped"))
			ret = RL_EXIT_FAIL;
		if (js) {
			rl_json_obj_begin(js, NULL);
			rl_json_str(js, "dst", dp);
			rl_json_u64(js, "dst_offset", offs[i]);
			rl_json_str(js, "status", status);
			rl_json_u64(js, "bytes_deduped", r->deduped);
			if (r->differs)
				rl_json_u64(js, "differs_at", r->differs_at);
			if (e)
				rl_json_error(js, e);
			rl_json_obj_end(js);
			continue;
		}
		if (e && !r->deduped)
			continue;	/* the error line said it all */
		printf("%s [%llu, %llu) -> %s [%llu, %llu): ", argv[0],
		       (unsigned long long)soff, (unsigned long long)(soff + len), dp,
		       (unsigned long long)offs[i], (unsigned long long)(offs[i] + len));
		if (r->differs && r->deduped)
			printf("differs at %llu, %llu bytes deduped\n",
			       (unsigned long long)r->differs_at, (unsigned long long)r->deduped);
		else if (r->differs)
			printf("differs\n");
		else if (r->deduped < len && !e)
			printf("short dedupe, %llu of %llu bytes deduped\n",
			       (unsigned long long)r->deduped, (unsigned long long)len);
		else
			printf("%llu bytes deduped\n", (unsigned long long)r->deduped);
	}
	if (js) {
		rl_json_arr_end(js);
		rl_json_u64(js, "deduped_destinations", ok);
		rl_json_obj_end(js);
	}
out:
	rl_json_free(js);
	for (i = 0; i < n; i++)
		rl_ops->close(dsts[i]);
	rl_ops->close(src);
	free(dsts);
	free(offs);
	free(openerr);
	free(res);
	return ret;
}
