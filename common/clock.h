/* clock.c: the monotonic clock, for durations (never the time of day). */
#ifndef CLOCK_H
#define CLOCK_H

#include <stdint.h>

uint64_t now_ns(void);
uint64_t now_ms(void);

#endif /* CLOCK_H */
