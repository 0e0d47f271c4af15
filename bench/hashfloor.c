/*
 * bench/hashfloor.c - the password-hash floor, and the bench's hash.
 *
 *   hashfloor make PASSWORD      print a yescrypt hash of PASSWORD made
 *                                with libxcrypt's default cost and a
 *                                fixed salt (the same on every run)
 *   hashfloor check PASSWORD HASH
 *                                one crypt(3), as a login does; exit 0
 *                                if it matches
 *
 * "check" run as a process is the floor that login is measured against:
 * fork + exec + one crypt() of the same hash every server checks.
 */
#define _GNU_SOURCE
#include <crypt.h>
#include <stdio.h>
#include <string.h>

int
main(int argc, char **argv)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd;
	const char *h;
	static const char rbytes[16] = "pop3d-bench-salt";

	memset(&cd, 0, sizeof(cd));
	if (argc == 3 && strcmp(argv[1], "make") == 0) {
		if (crypt_gensalt_rn("$y$", 0, rbytes, sizeof(rbytes), setting,
		    sizeof(setting)) == NULL)
			return 1;
		if ((h = crypt_r(argv[2], setting, &cd)) == NULL || h[0] == '*')
			return 1;
		(void)printf("%s\n", h);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "check") == 0) {
		h = crypt_r(argv[2], argv[3], &cd);
		return h != NULL && strcmp(h, argv[3]) == 0 ? 0 : 1;
	}
	(void)fprintf(stderr, "usage: hashfloor make PASSWORD | "
	    "check PASSWORD HASH\n");
	return 2;
}
