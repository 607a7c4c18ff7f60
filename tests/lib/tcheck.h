/* Minimal unit-test support: CHECK() records a failure and goes on. */
#ifndef PMCFS_TCHECK_H
#define PMCFS_TCHECK_H
#include <stdio.h>
#include <stdlib.h>

extern int tcheck_failures;
extern long tcheck_checks;

#define CHECK(cond) do {						\
	tcheck_checks++;						\
	if (!(cond)) {							\
		tcheck_failures++;					\
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		if (tcheck_failures > 20) exit(1);			\
	}								\
} while (0)
#define CHECK_OK(expr) do {						\
	int check_ret_ = (expr);					\
	tcheck_checks++;						\
	if (check_ret_) {						\
		tcheck_failures++;					\
		fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #expr, pmcfs_strerror(check_ret_)); \
		if (tcheck_failures > 20) exit(1);			\
	}								\
} while (0)

/* Print a summary line and return the process exit code. */
int tcheck_done(const char *name);

#endif
