// CLazyLibs has no Swift-facing API: it defines the C functions of libgit2, libarchive, libsndfile,
// libsamplerate, libfftw3f and libcurl that dvs calls, each loading its library on first use
// (lazy.c explains why). Targets that use one of those libraries depend on CLazyLibs.
