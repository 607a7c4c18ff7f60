/* SPDX-License-Identifier: MIT */
#ifndef PMCFS_ERRORS_H
#define PMCFS_ERRORS_H

/*
 * Library functions return 0 or a negative code: -errno, or one of these
 * (modelled on XFS's EFSCORRUPTED and EFSBADCRC). They sit above every
 * errno value so the two never collide.
 */
enum pmcfs_error {
	PMCFS_EBASE = 2048,
	PMCFS_ECORRUPT,		/* structure fails a verifier check */
	PMCFS_EBADCRC,		/* checksum mismatch */
	PMCFS_ENOFS,		/* no pmcfs superblock found */
	PMCFS_EFEATURE,		/* unsupported incompat feature */
	PMCFS_ESTALE,		/* child generation differs from parent pointer */
	PMCFS_EMISDIRECT,	/* block header names another block or filesystem */
	PMCFS_EDIFFERS,		/* dedupe: ranges are not byte-identical */
	PMCFS_ELAST,
};

/* Text for any code this library returns: negative errno or PMCFS_E*. */
const char *pmcfs_strerror(int err);

#endif
