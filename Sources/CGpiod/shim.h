// libgpiod v1 (Debian 12: 1.6.3). Newer distributions ship only v2, a different API: the driver sits
// behind Rig's DigitalLine/GPIOChip protocols so a v2 backend can be added beside it.
#include <gpiod.h>
