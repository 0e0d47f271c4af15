/*
 * logtext.c - the one escaping of client text for syslog: no control or
 * 8-bit byte a client sent reaches a log line raw (a terminal escape, a
 * forged second line, a byte a log parser chokes on).
 */
#include <stdio.h>

#include "logtext.h"

const char *
log_text(const char *in, char out[LOG_TEXT_MAX])
{
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		if (*p > 0x20 && *p < 0x7f && *p != '\\') {
			if (o + 1 >= LOG_TEXT_MAX)
				break;
			out[o++] = (char)*p;
			continue;
		}
		if (o + 4 >= LOG_TEXT_MAX)
			break;
		(void)snprintf(out + o, 5, "\\x%02x", *p);
		o += 4;
	}
	out[o] = '\0';
	return out;
}
