// SPDX-License-Identifier: MIT
/* clone (FICLONE, or a whole tree with -r) and clone-range (FICLONERANGE). */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "reflink_priv.h"

const char *const cmd_clone_usage[] = {
	"clone [options] SRC DST",
	"clone -r [options] SRCDIR DSTDIR",
	"",
	"Make DST share all of SRC's data (FICLONE), as cp --reflink=always.",
	"DST is created if missing and cut to SRC's size; if DST is a",
	"directory, the clone is DST/basename(SRC). With -r, copy the tree",
	"SRCDIR with every file's data shared and its metadata kept (modes,",
	"owners, times, symlinks, hard links, xattrs, devices, fifos).",
	NULL
};

const struct rl_option cmd_clone_options[] = {
	{ "recursive", 'r', 0, NULL, "clone a directory tree (as cp -a --reflink=always)" },
	RL_OPT_JSON_ENTRY,
	RL_OPT_HELP_ENTRY,
	RL_OPT_END
};

const char *const cmd_clone_range_usage[] = {
	"clone-range [options] SRC SRC_OFF DST DST_OFF LEN",
	"",
	"Make [DST_OFF, DST_OFF+LEN) of DST share [SRC_OFF, SRC_OFF+LEN) of SRC",
	"(FICLONERANGE). Offsets and lengths take K, M, G, T suffixes; they",
	"must be multiples of the filesystem block size, except that the range",
	"may end at SRC's end of file. LEN 0 means up to SRC's end of file.",
	NULL
};

const struct rl_option cmd_clone_range_options[] = {
	RL_OPT_JSON_ENTRY,
	RL_OPT_HELP_ENTRY,
	RL_OPT_END
};

/* Open for a remap; on failure report "op a -> b: open x: why". */
static int open_for(const char *op, const char *src, const char *dst,
		    const char *path, int how, struct rl_file **ret)
{
	char msg[256];
	int err = rl_ops->open(path, how, ret);

	if (err)
		error("%s %s -> %s: open %s: %s", op, src, dst, path,
		      rl_errmsg(err, op, msg, sizeof(msg)));
	return err;
}

static void json_result(struct rl_json *js, int err)
{
	rl_json_str(js, "status", err ? "error" : "ok");
	if (err)
		rl_json_error(js, err);
}

static int clone_file(const char *srcp, const char *dstarg, struct rl_json *js)
{
	struct rl_file *src = NULL, *dst = NULL;
	char msg[256];
	char *dstp = NULL, *tmp;
	struct stat st;
	bool existed;
	int err;

	if (rl_ops->stat(dstarg, &st) == 0 && S_ISDIR(st.st_mode)) {
		tmp = xstrdup(srcp);
		dstp = xasprintf("%s/%s", dstarg, basename(tmp));
		free(tmp);
	} else {
		dstp = xstrdup(dstarg);
	}
	existed = rl_ops->lstat(dstp, &st) == 0;
	err = open_for("clone", srcp, dstp, srcp, RL_OPEN_READ, &src);
	if (!err)
		err = open_for("clone", srcp, dstp, dstp, RL_OPEN_CREATE, &dst);
	if (!err) {
		err = rl_ops->clone_file(src, dst);
		if (err)
			rl_report_range("clone", src, dst, RL_NO_RANGE, 0, err);
		/* FICLONE leaves a longer destination's tail: cut it, as cp
		 * does, but only once the clone has succeeded. */
		else if (S_ISREG(dst->st.st_mode) && dst->st.st_size > src->st.st_size &&
			 (err = rl_ops->truncate(dst, src->st.st_size)))
			error("clone %s -> %s: truncate to %lld: %s", srcp, dstp,
			      (long long)src->st.st_size, rl_errmsg(err, NULL, msg, sizeof(msg)));
	}
	/* Do not leave an empty file behind a clone that failed. */
	if (err && dst && !existed)
		rl_ops->unlink(dstp);
	if (js) {
		rl_json_obj_begin(js, NULL);
		rl_json_str(js, "command", "clone");
		rl_json_str(js, "src", srcp);
		rl_json_str(js, "dst", dstp);
		rl_json_u64(js, "bytes", src && !err ? (uint64_t)src->st.st_size : 0);
		json_result(js, err);
		rl_json_obj_end(js);
	}
	rl_ops->close(src);
	rl_ops->close(dst);
	free(dstp);
	return err ? RL_EXIT_FAIL : RL_EXIT_OK;
}

int cmd_clone(const struct rl_cmd *cmd, int argc, char **argv)
{
	struct rl_json *js = NULL;
	bool recursive = false, json = false;
	int c, ret;

	while ((c = rl_getopt(cmd, argc, argv)) != -1) {
		switch (c) {
		case 'r': recursive = true; break;
		case OPT_JSON: json = true; break;
		}
	}
	if (argc - optind != 2)
		rl_usage_error(cmd, "clone: need SRC and DST");
	if (rl_backend_begin(true))
		return RL_EXIT_FAIL;
	if (json)
		js = rl_json_new(stdout);
	if (recursive && rl_image_mode())
		ret = rl_image_clone_tree(argv[optind], argv[optind + 1], js);
	else if (recursive)
		ret = rl_clone_tree(argv[optind], argv[optind + 1], js);
	else
		ret = clone_file(argv[optind], argv[optind + 1], js);
	rl_json_free(js);
	return ret;
}

static void parse_size_arg(const struct rl_cmd *cmd, const char *what, const char *s,
			   uint64_t *ret)
{
	if (parse_size(s, ret))
		rl_usage_error(cmd, "%s: bad %s '%s'", cmd->name, what, s);
}

int cmd_clone_range(const struct rl_cmd *cmd, int argc, char **argv)
{
	struct rl_file *src = NULL, *dst = NULL;
	struct rl_json *js = NULL;
	uint64_t soff, doff, len;
	const char *srcp, *dstp;
	struct stat st;
	bool existed;
	int c, err;

	while ((c = rl_getopt(cmd, argc, argv)) != -1) {
		if (c == OPT_JSON)
			js = rl_json_new(stdout);
	}
	if (argc - optind != 5)
		rl_usage_error(cmd, "clone-range: need SRC SRC_OFF DST DST_OFF LEN");
	srcp = argv[optind];
	dstp = argv[optind + 2];
	parse_size_arg(cmd, "SRC_OFF", argv[optind + 1], &soff);
	parse_size_arg(cmd, "DST_OFF", argv[optind + 3], &doff);
	parse_size_arg(cmd, "LEN", argv[optind + 4], &len);
	if (rl_backend_begin(true)) {
		free(js);	/* nothing written yet */
		return RL_EXIT_FAIL;
	}

	existed = rl_ops->lstat(dstp, &st) == 0;
	err = open_for("clone-range", srcp, dstp, srcp, RL_OPEN_READ, &src);
	if (!err)
		err = open_for("clone-range", srcp, dstp, dstp, RL_OPEN_CREATE, &dst);
	if (!err) {
		err = rl_ops->clone_range(src, soff, dst, doff, len);
		if (err)
			rl_report_range("clone-range", src, dst, soff,
					len ? soff + len : (uint64_t)src->st.st_size, err);
	}
	if (err && dst && !existed)
		rl_ops->unlink(dstp);
	if (js) {
		rl_json_obj_begin(js, NULL);
		rl_json_str(js, "command", "clone-range");
		rl_json_str(js, "src", srcp);
		rl_json_u64(js, "src_offset", soff);
		rl_json_str(js, "dst", dstp);
		rl_json_u64(js, "dst_offset", doff);
		rl_json_u64(js, "length", len);
		json_result(js, err);
		rl_json_obj_end(js);
		rl_json_free(js);
	}
	rl_ops->close(src);
	rl_ops->close(dst);
	return err ? RL_EXIT_FAIL : RL_EXIT_OK;
}
