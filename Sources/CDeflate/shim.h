// libdeflate (Debian's libdeflate-dev; libtiff's own deflate codec uses it for whole strips).
#include <libdeflate.h>
