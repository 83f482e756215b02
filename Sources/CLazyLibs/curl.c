// Lazy forwarding stubs for libcurl, which FoundationNetworking (URLSession, used by DVSRemote)
// calls. In the release build Foundation is linked statically and DVSRemote drops the `-lcurl` that
// FoundationNetworking asks for (Package.swift), so these definitions are the only ones: libcurl and
// its dependencies load on the first request of push, fetch or clone. In the debug build
// libFoundationNetworking.so links libcurl itself and these forward to that same copy.
// curl.h is not installed (no libcurl -dev package), so the prototypes are written with the C types
// the ABI passes (handles as pointers, enums as int); curl_easy_setopt, curl_easy_getinfo and
// curl_multi_setopt take exactly one argument after the option (a long, a pointer or a
// curl_off_t, each one 64-bit register or stack slot), which is forwarded unchanged.
// The list is `nm -u` of FoundationNetworking's static archives.
#if defined(__linux__)
#include "lazy.h"

#include <stdarg.h>

static DVSLazyLibrary library = {"libcurl.so.4", 0};

#define FORWARD(ret, name, params, args) \
    ret name params { \
        static void *f; \
        return ((ret(*) params)dvs_lazy_symbol(&library, #name, &f))args; \
    }
#define FORWARD_VOID(name, params, args) \
    void name params { \
        static void *f; \
        ((void(*) params)dvs_lazy_symbol(&library, #name, &f))args; \
    }
#define FORWARD_OPTION(name) \
    int name(void *handle, int option, ...) { \
        static void *f; \
        va_list ap; \
        va_start(ap, option); \
        void *value = va_arg(ap, void *); \
        va_end(ap); \
        return ((int (*)(void *, int, ...))dvs_lazy_symbol(&library, #name, &f))(handle, option, value); \
    }

FORWARD(int, curl_global_init, (long flags), (flags))
FORWARD(void *, curl_easy_init, (void), ())
FORWARD_VOID(curl_easy_cleanup, (void *handle), (handle))
FORWARD_OPTION(curl_easy_setopt)
FORWARD_OPTION(curl_easy_getinfo)
FORWARD_OPTION(curl_multi_setopt)
FORWARD(int, curl_easy_pause, (void *handle, int bitmask), (handle, bitmask))
FORWARD(const char *, curl_easy_strerror, (int code), (code))
FORWARD_VOID(curl_free, (void *p), (p))
FORWARD(void *, curl_multi_init, (void), ())
FORWARD(int, curl_multi_cleanup, (void *multi), (multi))
FORWARD(int, curl_multi_add_handle, (void *multi, void *handle), (multi, handle))
FORWARD(int, curl_multi_remove_handle, (void *multi, void *handle), (multi, handle))
FORWARD(int, curl_multi_assign, (void *multi, int socket, void *p), (multi, socket, p))
FORWARD(int, curl_multi_socket_action, (void *multi, int socket, int events, int *running), (multi, socket, events, running))
FORWARD(void *, curl_multi_info_read, (void *multi, int *queued), (multi, queued))
FORWARD(void *, curl_slist_append, (void *list, const char *s), (list, s))
FORWARD_VOID(curl_slist_free_all, (void *list), (list))
FORWARD(void *, curl_url, (void), ())
FORWARD(int, curl_url_get, (const void *url, int part, char **value, unsigned flags), (url, part, value, flags))
FORWARD(int, curl_url_set, (void *url, int part, const char *value, unsigned flags), (url, part, value, flags))
FORWARD(char *, curl_version, (void), ())
FORWARD(void *, curl_version_info, (int version), (version))
#endif
