// cairo 1.16 (Debian libcairo2-dev): PDF and image surfaces for the Figures module.
#include <cairo.h>
#include <cairo-pdf.h>
