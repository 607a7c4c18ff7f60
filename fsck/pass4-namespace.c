// SPDX-License-Identifier: MIT
/*
 * Pass 4: namespace, per subvolume and snapshot - NOT IMPLEMENTED YET.
 *
 * Will check: inode items, link counts against directory entries and
 *   back-references, entries pointing at missing inodes, unreachable
 *   inodes (to lost+found), directory cycles and second parents, extent
 *   maps (overlaps, flags, past i_size), xattr items, orphans.
 * Will consume: pass 2's per-subvolume damage flags and its media hits
 *   (to name the files whose data lies on bad blocks, pass 6).
 * Today it checks nothing and says so; the summary prints no file or
 *   directory counts, since none were made.
 */
#include "fsck.h"

int pass4_namespace(struct fsck_ctx *ctx)
{
	verbose(ctx, "namespace checks are not implemented in this version\n");
	return 0;
}
