// SuiteSparse 5.12 (Debian libsuitesparse-dev) ships no pkg-config files: headers live in
// /usr/include/suitesparse. KLU is the sparse LU used by the particle model's Newton solver:
// its pattern is fixed for a mesh, so one symbolic analysis serves every refactorisation.
#include <suitesparse/klu.h>
