/* SPDX-License-Identifier: MIT */
/*
 * procmaps.h - one helper for the test programs that read /proc/PID/maps
 * or the header lines of /proc/PID/smaps.
 */
#ifndef _TOOLS_PROCMAPS_H
#define _TOOLS_PROCMAPS_H

#include <string.h>

/*
 * The name column of a maps line: what follows its five fixed fields
 * (range, permissions, offset, device, inode), without the newline.
 * Returns where it starts and puts its length in *len (0: no name).
 */
static inline const char *maps_line_name(const char *line, size_t *len)
{
	const char *s = line;

	for (int f = 0; f < 5; f++) {
		s += strspn(s, " ");
		s += strcspn(s, " \n");
	}
	s += strspn(s, " ");
	*len = strcspn(s, "\n");
	return s;
}

#endif /* _TOOLS_PROCMAPS_H */
