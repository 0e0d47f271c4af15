/*
 * logtext.h - client text made safe for a syslog line.
 */
#ifndef LOGTEXT_H
#define LOGTEXT_H

#include <stddef.h>

#include "params.h"

/* Copy in to out (LOG_TEXT_MAX octets), every byte outside 0x21..0x7e
   and the backslash written as \xNN, cut short rather than overflow;
   returns out.  A name so escaped stays one token for log parsers. */
const char *log_text(const char *in, char out[LOG_TEXT_MAX]);

#endif
