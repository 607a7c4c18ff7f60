// SPDX-License-Identifier: MIT
/*
 * snapshot create|list|delete: the image's subvolumes, through libpmcfs
 * (image mode only: a mounted pmcfs takes snapshots through the kernel
 * module's own interface, not through the generic ioctls this tool uses).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "image_priv.h"

const char *const cmd_snapshot_usage[] = {
	"snapshot create [options] NAME | list [options] | delete [options] NAME",
	"",
	"With --image IMG only. create: snapshot the live filesystem as NAME",
	"(O(1): the snapshot shares every block until either side changes);",
	"-r makes it read-only. list: every snapshot (and other subvolume)",
	"with its id, name, parent, flags, and the generation and time it was",
	"created. delete: drop snapshot NAME and free what only it held.",
	"Files in a snapshot are addressed as NAME@/PATH, read-only.",
	NULL
};

const struct rl_option cmd_snapshot_options[] = {
	{ "readonly", 'r', 0, NULL, "create: make the snapshot read-only" },
	RL_OPT_JSON_ENTRY,
	RL_OPT_HELP_ENTRY,
	RL_OPT_END
};

static const char *flags_text(uint64_t flags, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", flags & PMCFS_ROOT_RDONLY ? "ro" : "rw",
		 flags & PMCFS_ROOT_DROPPING ? ",dropping" : "",
		 flags & PMCFS_ROOT_PARENT_GONE ? ",parent-gone" : "");
	return buf;
}

static const char *time_text(uint64_t sec, char *buf, size_t len)
{
	time_t t = (time_t)sec;
	struct tm tm;

	if (!localtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%S%z", &tm))
		snprintf(buf, len, "%llu", (unsigned long long)sec);
	return buf;
}

static void json_info(struct rl_json *js, const struct pmcfs_subvol_info *si)
{
	char t[64];

	rl_json_u64(js, "id", si->id);
	rl_json_str(js, "name", si->name);
	rl_json_u64(js, "parent", si->parent);
	rl_json_bool(js, "readonly", si->flags & PMCFS_ROOT_RDONLY);
	rl_json_arr_begin(js, "flags");
	if (si->flags & PMCFS_ROOT_RDONLY)
		rl_json_str(js, NULL, "ro");
	if (si->flags & PMCFS_ROOT_DROPPING)
		rl_json_str(js, NULL, "dropping");
	if (si->flags & PMCFS_ROOT_PARENT_GONE)
		rl_json_str(js, NULL, "parent-gone");
	rl_json_arr_end(js);
	rl_json_u64(js, "generation", si->create_gen);
	rl_json_u64(js, "ctime", si->ctime_sec);
	rl_json_u64(js, "ctime_nsec", si->ctime_nsec);
	rl_json_str(js, "created", time_text(si->ctime_sec, t, sizeof(t)));
}

static int fail(struct rl_json *js, const char *sub, const char *name, int err)
{
	char msg[256];

	rl_image_note_error(err);
	if (err == -EEXIST)
		snprintf(msg, sizeof(msg), "%s (a snapshot of that name exists)", strerror(EEXIST));
	else if (err == -ENOENT)
		snprintf(msg, sizeof(msg), "no snapshot of that name");
	else
		rl_errmsg(err, NULL, msg, sizeof(msg));
	error("snapshot %s %s: %s", sub, name, msg);
	if (js) {
		rl_json_obj_begin(js, NULL);
		rl_json_str(js, "command", sub[0] == 'c' ? "snapshot create" : "snapshot delete");
		rl_json_str(js, "name", name);
		rl_json_str(js, "status", "error");
		rl_json_str(js, "error", msg);
		rl_json_str(js, "errno", rl_errname(err));
		rl_json_obj_end(js);
	}
	return RL_EXIT_FAIL;
}

static int snap_create(const char *name, bool ro, struct rl_json *js)
{
	struct pmcfs_subvol_info si;
	uint64_t id;
	int err;

	err = pmcfs_subvol_snapshot(rl_img.tx, rl_img.live_id, name,
				    ro ? PMCFS_SNAP_RDONLY : 0, &id);
	if (!err)
		err = pmcfs_subvol_info(rl_img.fs, id, &si);
	if (err)
		return fail(js, "create", name, err);
	if (js) {
		rl_json_obj_begin(js, NULL);
		rl_json_str(js, "command", "snapshot create");
		json_info(js, &si);
		rl_json_str(js, "status", "ok");
		rl_json_obj_end(js);
	} else {
		printf("created snapshot '%s' (id %llu) of the live filesystem, %s, generation %llu\n",
		       name, (unsigned long long)id, ro ? "read-only" : "writable",
		       (unsigned long long)si.create_gen);
	}
	return RL_EXIT_OK;
}

static int snap_delete(const char *name, struct rl_json *js)
{
	uint64_t id;
	int err = img_subvol_by_name(name, &id);

	if (!err && id == rl_img.live_id)
		err = -ENOENT;	/* the live filesystem is not a snapshot */
	if (!err)
		err = pmcfs_subvol_delete(rl_img.tx, id);
	if (err)
		return fail(js, "delete", name, err);
	if (js) {
		rl_json_obj_begin(js, NULL);
		rl_json_str(js, "command", "snapshot delete");
		rl_json_str(js, "name", name);
		rl_json_u64(js, "id", id);
		rl_json_str(js, "status", "ok");
		rl_json_obj_end(js);
	} else {
		printf("deleted snapshot '%s' (id %llu)\n", name, (unsigned long long)id);
	}
	return RL_EXIT_OK;
}

static int snap_list(struct rl_json *js)
{
	struct pmcfs_ckey start = { PMCFS_FIRST_SUBVOL, 0, 0 }, k;
	struct pmcfs_subvol_info *v = NULL;
	struct pmcfs_iter *it;
	const void *body;
	size_t n = 0, cap = 0, i;
	uint32_t size;
	char fl[64], t[64];
	int err;

	err = pmcfs_iter_start(rl_img.fs, pmcfs_fs_roottab(rl_img.fs), &start, &it);
	if (!err) {
		while ((err = pmcfs_iter_next(it, &k, &body, &size)) > 0) {
			if (k.type != PMCFS_KEY_ROOT || k.objectid == rl_img.live_id)
				continue;
			if (n == cap) {
				cap = cap ? 2 * cap : 16;
				v = xreallocarray(v, cap, sizeof(*v));
			}
			v[n++].id = k.objectid;
		}
		pmcfs_iter_free(it);
	}
	for (i = 0; err >= 0 && i < n; i++)
		err = pmcfs_subvol_info(rl_img.fs, v[i].id, &v[i]);
	if (err < 0) {
		free(v);
		return error("snapshot list: %s", rl_errmsg(err, NULL, fl, sizeof(fl))),
		       RL_EXIT_FAIL;
	}
	if (js) {
		rl_json_obj_begin(js, NULL);
		rl_json_str(js, "command", "snapshot list");
		rl_json_u64(js, "live_id", rl_img.live_id);
		rl_json_arr_begin(js, "snapshots");
	} else {
		printf("%-6s %-24s %-6s %-8s %-10s %s\n", "ID", "NAME", "PARENT", "FLAGS",
		       "GENERATION", "CREATED");
	}
	for (i = 0; i < n; i++) {
		if (js) {
			rl_json_obj_begin(js, NULL);
			json_info(js, &v[i]);
			rl_json_obj_end(js);
			continue;
		}
		printf("%-6llu %-24s %-6llu %-8s %-10llu %s\n", (unsigned long long)v[i].id,
		       v[i].name, (unsigned long long)v[i].parent,
		       flags_text(v[i].flags, fl, sizeof(fl)),
		       (unsigned long long)v[i].create_gen, time_text(v[i].ctime_sec, t, sizeof(t)));
	}
	if (js) {
		rl_json_arr_end(js);
		rl_json_obj_end(js);
	}
	free(v);
	return RL_EXIT_OK;
}

static bool name_ok(const char *name)
{
	return pmcfs_name_valid(name, strlen(name));
}

int cmd_snapshot(const struct rl_cmd *cmd, int argc, char **argv)
{
	struct rl_json *js = NULL;
	bool ro = false, json = false;
	const char *sub, *name = NULL;
	int c, ret, nargs;

	while ((c = rl_getopt(cmd, argc, argv)) != -1) {
		switch (c) {
		case 'r': ro = true; break;
		case OPT_JSON: json = true; break;
		}
	}
	if (optind >= argc)
		rl_usage_error(cmd, "snapshot: need create, list or delete");
	sub = argv[optind];
	nargs = argc - optind - 1;
	if (!strcmp(sub, "create") || !strcmp(sub, "delete")) {
		if (nargs != 1)
			rl_usage_error(cmd, "snapshot %s: need one NAME", sub);
		name = argv[optind + 1];
		if (!name_ok(name))
			rl_usage_error(cmd, "snapshot %s: bad NAME '%s': 1 to 255 bytes, "
				       "no '/', not . or ..", sub, name);
	} else if (!strcmp(sub, "list")) {
		if (nargs)
			rl_usage_error(cmd, "snapshot list: takes no arguments");
	} else {
		rl_usage_error(cmd, "snapshot: unknown subcommand '%s'", sub);
	}
	if (ro && strcmp(sub, "create"))
		rl_usage_error(cmd, "snapshot %s: -r is for create", sub);
	if (!rl_image_mode()) {
		error("snapshot: works on an unmounted image only (--image IMG); snapshots "
		      "of a mounted pmcfs are taken through the kernel module's own "
		      "interface, not through this tool");
		return RL_EXIT_USAGE;
	}
	if (rl_backend_begin(strcmp(sub, "list") != 0))
		return RL_EXIT_FAIL;
	if (json)
		js = rl_json_new(stdout);
	if (!strcmp(sub, "create"))
		ret = snap_create(name, ro, js);
	else if (!strcmp(sub, "delete"))
		ret = snap_delete(name, js);
	else
		ret = snap_list(js);
	rl_json_free(js);
	return ret;
}
