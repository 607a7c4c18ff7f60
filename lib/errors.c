// SPDX-License-Identifier: MIT
#include <string.h>
#include "pmcfs.h"

static const char *const project_errors[] = {
	[PMCFS_ECORRUPT - PMCFS_EBASE]   = "metadata corrupted",
	[PMCFS_EBADCRC - PMCFS_EBASE]    = "metadata checksum mismatch",
	[PMCFS_ENOFS - PMCFS_EBASE]      = "no pmcfs filesystem found",
	[PMCFS_EFEATURE - PMCFS_EBASE]   = "unsupported filesystem feature",
	[PMCFS_ESTALE - PMCFS_EBASE]     = "stale block (generation mismatch)",
	[PMCFS_EMISDIRECT - PMCFS_EBASE] = "misdirected block (header names another block or filesystem)",
	[PMCFS_EDIFFERS - PMCFS_EBASE]   = "contents differ",
};

const char *pmcfs_strerror(int err)
{
	int code = err < 0 ? -err : err;

	if (code > PMCFS_EBASE && code < PMCFS_ELAST && project_errors[code - PMCFS_EBASE])
		return project_errors[code - PMCFS_EBASE];
	if (code == 0)
		return "success";
	/* strerror() may use a static buffer only for unknown codes. */
	return strerror(code);
}
