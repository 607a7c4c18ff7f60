/*
 * Fault injection for the harness's own self-test: a harness whose
 * oracles never fire looks exactly like a correct library. Each fault
 * here mimics a bug class from format-notes §1 and §10 between the
 * library and the recording device; test_crash --selftest requires the
 * harness to report every one of them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "crash.h"

struct fault_dev {
	struct pmcfs_dev *inner;
	enum crash_fault fault;
	bool flush_pending;
	unsigned writes;
};

/* The library writes a commit record as one 128-byte write at the start of a block. */
static bool is_commit_record(size_t len, uint64_t off)
{
	return len == sizeof(struct pmcfs_commit) && off % PMCFS_BLOCK_SIZE == 0;
}

static int fault_read(struct pmcfs_dev *dev, void *buf, size_t len, uint64_t off)
{
	struct fault_dev *f = dev->priv;

	return pmcfs_dev_read(f->inner, buf, len, off);
}

static int fault_write(struct pmcfs_dev *dev, const void *buf, size_t len, uint64_t off)
{
	struct fault_dev *f = dev->priv;
	int err;

	if (f->flush_pending) {
		f->flush_pending = false;
		/* The barrier before the commit point is lost: blocks and record race. */
		if (!(f->fault == CRASH_FAULT_NO_BARRIER && is_commit_record(len, off)) &&
		    (err = pmcfs_dev_flush(f->inner)))
			return err;
	}
	/* A tree block that never reaches media while the library believes it did. */
	if (f->fault == CRASH_FAULT_LOST_WRITE && len == PMCFS_BLOCK_SIZE && ++f->writes == 3)
		return 0;
	/* A commit record written to both slots: the durable one is overwritten in place. */
	if (f->fault == CRASH_FAULT_BOTH_SLOTS && is_commit_record(len, off) &&
	    off / PMCFS_BLOCK_SIZE <= PMCFS_SLOT_B_BLOCK) {
		uint64_t other = off / PMCFS_BLOCK_SIZE == PMCFS_SLOT_A_BLOCK ? PMCFS_SLOT_B_BLOCK :
				 PMCFS_SLOT_A_BLOCK;
		if ((err = pmcfs_dev_write(f->inner, buf, len, other * PMCFS_BLOCK_SIZE)))
			return err;
	}
	return pmcfs_dev_write(f->inner, buf, len, off);
}

static int fault_flush(struct pmcfs_dev *dev)
{
	struct fault_dev *f = dev->priv;

	/* Decided at the next write, which tells whether this was the commit barrier. */
	f->flush_pending = true;
	return 0;
}

static void fault_close(struct pmcfs_dev *dev)
{
	struct fault_dev *f = dev->priv;

	if (f->flush_pending)
		pmcfs_dev_flush(f->inner);
	free(f);	/* inner belongs to the harness */
}

static const struct pmcfs_dev_ops fault_ops = {
	.name = "crash-fault",
	.read = fault_read,
	.write = fault_write,
	.flush = fault_flush,
	.close = fault_close,
};

int crash_fault_open(struct pmcfs_dev *inner, enum crash_fault fault, struct pmcfs_dev **ret)
{
	struct pmcfs_dev *dev = calloc(1, sizeof(*dev));
	struct fault_dev *f = calloc(1, sizeof(*f));

	if (!dev || !f) {
		free(dev);
		free(f);
		return -ENOMEM;
	}
	f->inner = inner;
	f->fault = fault;
	dev->ops = &fault_ops;
	dev->kind = PMCFS_DEV_MEM;
	dev->size = inner->size;
	dev->priv = f;
	*ret = dev;
	return 0;
}
