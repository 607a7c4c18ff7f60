#include "tcheck.h"

int tcheck_failures;
long tcheck_checks;

int tcheck_done(const char *name)
{
	printf("%s: %ld checks, %d failed\n", name, tcheck_checks, tcheck_failures);
	return tcheck_failures ? 1 : 0;
}
