/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The inside of the local driver's libvirt source (libvirt*.c): libvirt.so's calls as loaded on
 * first use, a connection either way (libvirt.so or the native client), and the helpers the
 * listing and the statistics share. */
#pragma once

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "lvrpc.h"
#include "vms.h"

/* libvirt.so's functions, loaded by lv_load (libvirt_load.c) and called under their own names
 * through the macros below. */
typedef struct {
    __typeof__(virConnSetErrorFunc) *virConnSetErrorFunc;
    __typeof__(virConnectClose) *virConnectClose;
    __typeof__(virConnectGetAllDomainStats) *virConnectGetAllDomainStats;
    __typeof__(virConnectListAllDomains) *virConnectListAllDomains;
    __typeof__(virConnectOpen) *virConnectOpen;
    __typeof__(virConnectOpenReadOnly) *virConnectOpenReadOnly;
    __typeof__(virDomainFree) *virDomainFree;
    __typeof__(virDomainGetCPUStats) *virDomainGetCPUStats;
    __typeof__(virDomainGetConnect) *virDomainGetConnect;
    __typeof__(virDomainGetID) *virDomainGetID;
    __typeof__(virDomainGetInfo) *virDomainGetInfo;
    __typeof__(virDomainGetMetadata) *virDomainGetMetadata;
    __typeof__(virDomainGetName) *virDomainGetName;
    __typeof__(virDomainGetSchedulerParameters) *virDomainGetSchedulerParameters;
    __typeof__(virDomainGetSchedulerType) *virDomainGetSchedulerType;
    __typeof__(virDomainGetUUIDString) *virDomainGetUUIDString;
    __typeof__(virDomainGetVcpuPinInfo) *virDomainGetVcpuPinInfo;
    __typeof__(virDomainGetVcpus) *virDomainGetVcpus;
    __typeof__(virDomainGetVcpusFlags) *virDomainGetVcpusFlags;
    __typeof__(virDomainGetXMLDesc) *virDomainGetXMLDesc;
    __typeof__(virDomainIsActive) *virDomainIsActive;
    __typeof__(virDomainLookupByUUIDString) *virDomainLookupByUUIDString;
    __typeof__(virDomainMemoryStats) *virDomainMemoryStats;
    __typeof__(virDomainPinVcpu) *virDomainPinVcpu;
    __typeof__(virDomainSetMetadata) *virDomainSetMetadata;
    __typeof__(virDomainStatsRecordListFree) *virDomainStatsRecordListFree;
    __typeof__(virGetLastError) *virGetLastError;
    __typeof__(virInitialize) *virInitialize;
    __typeof__(virNodeGetCPUMap) *virNodeGetCPUMap;
    __typeof__(virResetLastError) *virResetLastError;
    __typeof__(virSetErrorFunc) *virSetErrorFunc;
    __typeof__(virTypedParamsClear) *virTypedParamsClear;
} lv_api_table;
extern lv_api_table lv_api;

/* Load libvirt.so once: 0, or -ENOENT with @why saying what is missing. */
int lv_load(char *why, size_t len);

#ifndef LV_API_NO_NAMES /* libvirt_load.c fills the table under the members' own names */
#define virConnSetErrorFunc (lv_api.virConnSetErrorFunc)
#define virConnectClose (lv_api.virConnectClose)
#define virConnectGetAllDomainStats (lv_api.virConnectGetAllDomainStats)
#define virConnectListAllDomains (lv_api.virConnectListAllDomains)
#define virConnectOpen (lv_api.virConnectOpen)
#define virConnectOpenReadOnly (lv_api.virConnectOpenReadOnly)
#define virDomainFree (lv_api.virDomainFree)
#define virDomainGetCPUStats (lv_api.virDomainGetCPUStats)
#define virDomainGetConnect (lv_api.virDomainGetConnect)
#define virDomainGetID (lv_api.virDomainGetID)
#define virDomainGetInfo (lv_api.virDomainGetInfo)
#define virDomainGetMetadata (lv_api.virDomainGetMetadata)
#define virDomainGetName (lv_api.virDomainGetName)
#define virDomainGetSchedulerParameters (lv_api.virDomainGetSchedulerParameters)
#define virDomainGetSchedulerType (lv_api.virDomainGetSchedulerType)
#define virDomainGetUUIDString (lv_api.virDomainGetUUIDString)
#define virDomainGetVcpuPinInfo (lv_api.virDomainGetVcpuPinInfo)
#define virDomainGetVcpus (lv_api.virDomainGetVcpus)
#define virDomainGetVcpusFlags (lv_api.virDomainGetVcpusFlags)
#define virDomainGetXMLDesc (lv_api.virDomainGetXMLDesc)
#define virDomainIsActive (lv_api.virDomainIsActive)
#define virDomainLookupByUUIDString (lv_api.virDomainLookupByUUIDString)
#define virDomainMemoryStats (lv_api.virDomainMemoryStats)
#define virDomainPinVcpu (lv_api.virDomainPinVcpu)
#define virDomainSetMetadata (lv_api.virDomainSetMetadata)
#define virDomainStatsRecordListFree (lv_api.virDomainStatsRecordListFree)
#define virGetLastError (lv_api.virGetLastError)
#define virInitialize (lv_api.virInitialize)
#define virNodeGetCPUMap (lv_api.virNodeGetCPUMap)
#define virResetLastError (lv_api.virResetLastError)
#define virSetErrorFunc (lv_api.virSetErrorFunc)
#define virTypedParamsClear (lv_api.virTypedParamsClear)
#endif

struct lv_conn {
    virConnectPtr c; /* through libvirt.so, or */
    lvrpc *rpc;      /* through the native client */
    char *uri;
    /* metadata changes libvirtd announced, taken at each listing (native client only) */
    bool meta_watched, meta_all;
    unsigned char (*meta_changed)[16];
    size_t nmeta_changed;
};

/* A domain on either way: libvirt.so's handle or the native client's wire form. */
typedef struct {
    virDomainPtr d;
    const remote_nonnull_domain *rd;
} lv_dom;

/* Take the metadata changes announced since the last listing (libvirt.c). */
void lv_meta_take(lv_conn *c);
/* One domain of the native client's listing, with its info and, when due, its metadata (libvirt.c). */
int lv_info_native(lv_conn *c, const remote_nonnull_domain *rd, char *name, lv_meta_due_fn meta_due, void *ud,
                   lv_dom_info *ret);
/* The domain's metadata element of namespace @ns (libvirt's text, free it), or NULL when it has
 * none (libvirt.c). */
char *lv_metadata(lv_conn *c, const lv_dom *d, const char *ns);
/* The text of the first element @tag of @xml, unescaped (free it), or NULL (libvirt.c). */
char *lv_xml_text(const char *xml, const char *tag);
/* libvirt's domain state as the records name it (libvirt_stats.c). */
const char *lv_state_name(int st);
