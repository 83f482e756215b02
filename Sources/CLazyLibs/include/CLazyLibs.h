// CLazyLibs has no Swift-facing API: it defines the C functions of libgit2, libarchive, libsndfile,
// libsamplerate, libfftw3f and libcurl that dvs calls, each loading its library on first use
// (lazy.c explains why). Targets that use one of those libraries depend on CLazyLibs.

// One Swift-facing exception: glibc's malloc_trim (malloc.h), which Swift's Glibc module does not
// import; the walk of a large working tree uses it to give freed heap back.
#include "dvs_malloc.h"
