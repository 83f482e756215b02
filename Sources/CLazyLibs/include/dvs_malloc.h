// glibc's malloc extensions (malloc_trim), which Swift's Glibc module does not import.
// Not a lazily loaded library: libc is always loaded; this target is dvs's one C target.
#include <malloc.h>
