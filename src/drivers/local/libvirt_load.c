/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt.so loaded when a libvirt source is first used, not linked: a host (or a daemon) that
 * never talks to libvirt does not map it, nor its dependencies (about 8 MB of resident pages). */
#include <dlfcn.h>
#include <pthread.h>

#define LV_API_NO_NAMES
#include "libvirt_internal.h"

lv_api_table lv_api;

int lv_load(char *why, size_t len) {
    static int loaded; /* 1 loaded, -1 unavailable */
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    void *h;
    pthread_mutex_lock(&lock);
    if (loaded) {
        pthread_mutex_unlock(&lock);
        if (loaded < 0)
            snprintf(why, len, "libvirt is not installed (libvirt.so.0: Debian libvirt0)");
        return loaded > 0 ? 0 : -ENOENT;
    }
    h = dlopen("libvirt.so.0", RTLD_NOW | RTLD_LOCAL);
    loaded = -1;
    if (h) {
        loaded = 1;
#define LOAD(f)                                                                                                        \
    do {                                                                                                               \
        if (!(lv_api.f = (__typeof__(lv_api.f))dlsym(h, #f)))                                                          \
            loaded = -1;                                                                                               \
    } while (0)
        LOAD(virConnSetErrorFunc);
        LOAD(virConnectClose);
        LOAD(virConnectGetAllDomainStats);
        LOAD(virConnectListAllDomains);
        LOAD(virConnectOpen);
        LOAD(virConnectOpenReadOnly);
        LOAD(virDomainFree);
        LOAD(virDomainGetCPUStats);
        LOAD(virDomainGetConnect);
        LOAD(virDomainGetID);
        LOAD(virDomainGetInfo);
        LOAD(virDomainGetMetadata);
        LOAD(virDomainGetName);
        LOAD(virDomainGetSchedulerParameters);
        LOAD(virDomainGetSchedulerType);
        LOAD(virDomainGetUUIDString);
        LOAD(virDomainGetVcpuPinInfo);
        LOAD(virDomainGetVcpus);
        LOAD(virDomainGetVcpusFlags);
        LOAD(virDomainGetXMLDesc);
        LOAD(virDomainIsActive);
        LOAD(virDomainLookupByUUIDString);
        LOAD(virDomainMemoryStats);
        LOAD(virDomainPinVcpu);
        LOAD(virDomainSetMetadata);
        LOAD(virDomainStatsRecordListFree);
        LOAD(virGetLastError);
        LOAD(virInitialize);
        LOAD(virNodeGetCPUMap);
        LOAD(virResetLastError);
        LOAD(virSetErrorFunc);
        LOAD(virTypedParamsClear);
#undef LOAD
    }
    pthread_mutex_unlock(&lock);
    if (loaded < 0)
        snprintf(why, len, "libvirt is not installed or too old (libvirt.so.0: %s)",
                 h ? "a symbol is missing" : dlerror());
    return loaded > 0 ? 0 : -ENOENT;
}
