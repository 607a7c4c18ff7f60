// SPDX-License-Identifier: MIT
/*
 * Tree walking for extents -r and scan. Symbolic links inside a tree are
 * never followed unless asked (--follow), and even then only to targets
 * inside one of the given roots, so a scan cannot wander out of the tree
 * it was pointed at. Entries are visited in name order, so runs are
 * reproducible.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "reflink_priv.h"

static bool inside_roots(struct rl_walk *w, const char *path)
{
	char *real = realpath(path, NULL);
	bool in = false;
	size_t i, n;

	if (!real)
		return false;
	for (i = 0; i < w->nroots && !in; i++) {
		n = strlen(w->roots[i]);
		in = !strncmp(real, w->roots[i], n) &&
		     (real[n] == 0 || real[n] == '/' || (n == 1 && w->roots[i][0] == '/'));
	}
	free(real);
	return in;
}

static bool visited(struct rl_walk *w, const struct stat *st)
{
	size_t i;

	for (i = 0; i < w->ndirs; i++)
		if (w->dirs[i].dev == st->st_dev && w->dirs[i].ino == st->st_ino)
			return true;
	if (w->ndirs == w->capdirs) {
		w->capdirs = w->capdirs ? 2 * w->capdirs : 64;
		w->dirs = xreallocarray(w->dirs, w->capdirs, sizeof(*w->dirs));
	}
	w->dirs[w->ndirs].dev = st->st_dev;
	w->dirs[w->ndirs].ino = st->st_ino;
	w->ndirs++;
	return false;
}

static int walk_path(struct rl_walk *w, const char *path, bool top)
{
	char msg[256];
	char **ents = NULL;
	struct stat st;
	size_t i, n;
	int err, ret = 0;

	err = rl_ops->lstat(path, &st);
	if (err) {
		w->errors++;
		rl_image_note_error(err);
		return error("%s %s: stat: %s", w->op, path, rl_errmsg(err, NULL, msg, sizeof(msg)));
	}
	if (S_ISLNK(st.st_mode)) {
		bool follow = top ? w->follow_args || w->follow : w->follow && inside_roots(w, path);

		if (!follow) {
			w->skipped_links++;
			return 0;
		}
		if (rl_ops->stat(path, &st) < 0 || S_ISLNK(st.st_mode)) {	/* dangling */
			w->skipped_links++;
			return 0;
		}
		/* Files are opened without following links: hand on the
		 * target itself. */
		if (S_ISREG(st.st_mode)) {
			char *real = realpath(path, NULL);

			if (!real) {
				w->skipped_links++;
				return 0;
			}
			ret = w->fn(real, &st, w->arg);
			free(real);
			return ret;
		}
	}
	if (S_ISREG(st.st_mode))
		return w->fn(path, &st, w->arg);
	if (!S_ISDIR(st.st_mode)) {
		w->skipped_other++;
		if (top) {
			w->errors++;
			return error("%s %s: not a regular file", w->op, path);
		}
		return 0;
	}
	if (!w->recursive) {
		w->errors++;
		return error("%s %s: is a directory (use -r)", w->op, path);
	}
	if (visited(w, &st))
		return 0;	/* a loop through a followed symlink */
	err = rl_ops->list_dir(path, &ents, &n);
	if (err) {
		w->errors++;
		return error("%s %s: read directory: %s", w->op, path,
			     rl_errmsg(err, NULL, msg, sizeof(msg)));
	}
	for (i = 0; i < n; i++) {
		const char *name = ents[i];
		size_t pl = strlen(path);
		/* "/" and "snap@/" already end in a slash. */
		char *sub = pl && path[pl - 1] == '/' ? xasprintf("%s%s", path, name) :
							  xasprintf("%s/%s", path, name);

		if (walk_path(w, sub, false) < 0)
			ret = -1;
		free(sub);
		free(ents[i]);
	}
	free(ents);
	return ret;
}

int rl_walk(struct rl_walk *w, char **paths, int npaths)
{
	int i, ret = 0;

	w->roots = xcalloc(npaths, sizeof(*w->roots));
	/* Image mode never follows links, so it has no use for real paths. */
	for (i = 0; i < npaths && !rl_image_mode(); i++) {
		char *r = realpath(paths[i], NULL);

		if (r)
			w->roots[w->nroots++] = r;
	}
	for (i = 0; i < npaths; i++)
		if (walk_path(w, paths[i], true) < 0)
			ret = -1;
	for (i = 0; i < (int)w->nroots; i++)
		free(w->roots[i]);
	free(w->roots);
	free(w->dirs);
	w->roots = NULL;
	w->dirs = NULL;
	return ret;
}
