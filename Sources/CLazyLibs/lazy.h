// Loading a shared library on first use (see lazy.c). Internal to CLazyLibs.
#ifndef DVS_LAZY_H
#define DVS_LAZY_H

/// One library loaded on demand: its soname and, once loaded, the dlopen handle.
typedef struct {
    const char *soname;
    void *handle;
} DVSLazyLibrary;

/// The address of `name` in `library`, loading the library on the first call; `cache` keeps the
/// address for the next call. Prints an error and exits with status 1 when the library or the
/// function cannot be found (before, the dynamic loader refused to start dvs at all).
void *dvs_lazy_symbol(DVSLazyLibrary *library, const char *name, void **cache);

#endif
