// libtiff 4.5 (Debian libtiff-dev). Variadic TIFFSetField/TIFFGetField are not imported into Swift:
// typed static inline wrappers are added here as the Imaging module needs them.
#include <tiffio.h>
