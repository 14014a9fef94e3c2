/*
 * check_main.h - the end of every Check suite's main(): run the suite with
 * Check's normal output and turn the result into the exit code that
 * `make check` reads.
 */
#ifndef CHECK_MAIN_H
#define CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

/* Runs every test of s, frees s with its runner, and returns EXIT_SUCCESS
 * when none failed, EXIT_FAILURE otherwise. */
static inline int
check_main_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
