/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uni-healthd's parts: the sources of hardware events (EDAC sysfs, RAS tracepoints, SMBIOS,
 * sensors, a rasdaemon database), the machine-check decoder, the first-level actions and the
 * association of errors with VMs. Parsers are pure (buffers in, structs out) and unit-tested. */
#pragma once

#include "healthlog/healthlog.h"

/* ---- mca.c: machine-check status decoding (Intel SDM vol. 3B ch. 16; AMD APM vol. 2 ch. 9) ---- */
enum { MCA_VENDOR_INTEL = 0, MCA_VENDOR_AMD = 2, MCA_VENDOR_HYGON = 9, MCA_VENDOR_UNKNOWN = -1 };
typedef struct {
    bool val, over, uc, en, miscv, addrv, pcc, s, ar, deferred, poison;
    unsigned mcacod, mscod;
    unsigned corrected_count; /* Intel: bits 52:38 with CMCI, else 0 */
    bool have_count;
    const char *component; /* l1 l2 l3 dram mcu tlb bus core */
    const char *severity;  /* corrected uncorrected deferred fatal, or info when not valid */
    char desc[192];        /* "cache hierarchy error: L2, data, data read" */
} mca_decoded;
/* Decode MCi_STATUS. @mcgcap tells whether the corrected-error count is there (MCG_CMCI_P);
 * @ipid (AMD SMCA MCA_IPID, 0 when none) names the bank's unit on AMD. */
void mca_decode(uint64_t status, uint64_t mcgcap, uint64_t ipid, int vendor, mca_decoded *out);

/* ---- edac.c: EDAC counters in sysfs: memory controllers (both layouts) and edac_devices ---- */
typedef struct {
    char *key;      /* stable name of the counter, for its baseline: "mc0/dimm3/ce", "dev/l2c2/l2c20/l2c2/ce" */
    char *label;    /* DIMM label (sanitised), NULL for the controller's no-info counters */
    char *location; /* "mc0 csrow1 channel0", "mc0 dimm3 (channel 1 slot 0)", "l2c2/l2c20/l2c2" */
    int mc;         /* -1: an edac_device counter */
    bool uncorrected;
    bool noinfo; /* *_noinfo_count: errors the driver could not place */
    uint64_t value;
    /* edac_device counters: the cache level its names tell ("l2c2" -> 2; 0: not a cache), and
     * which of the host's @cache_count instances of that level it is, in sysfs order. */
    int cache_level, cache_index, cache_count;
} edac_counter;
typedef struct {
    char *label, *location, *mem_type;
    int mc;
    int64_t size_mb;
} edac_dimm;
typedef struct {
    edac_counter *c;
    size_t n;
    edac_dimm *d;
    size_t nd;
    unsigned nmc;      /* memory controllers seen */
    unsigned ndev;     /* edac_device controllers seen */
    unsigned nskipped; /* edac_device counters that exist but could not be read */
    char skipped[160]; /* the first of them and why */
} edac_scan;
/* Read every counter under sysfs devices/system/edac/mc (dimmN/rankN, else csrowN/chN) and of
 * every edac_device (devices/system/edac/DEV/INSTANCE[/BLOCK]/{ce,ue}_count: the blocks' counters
 * where an instance has blocks, else the instance's). -ENOENT when there is neither. */
int edac_read(int sys_fd, edac_scan *out);
void edac_scan_free(edac_scan *s);
/* The CPUs sharing an edac_device counter's cache, from cacheinfo
 * (devices/system/cpu/cpuN/cache/indexI/{level,shared_cpu_list}): the distinct caches of its level
 * ordered by their first CPU, the one at its index. @bitmap has room for @max CPUs; @ret_all is
 * set when the cache is shared by every CPU cacheinfo describes. -ENODATA when cacheinfo is absent
 * or counts a different number of caches of that level than EDAC (then nothing can be told). */
int edac_cache_cpus(int sys_fd, const edac_counter *c, uint8_t *bitmap, unsigned max, unsigned *ret_n, bool *ret_all);

/* ---- trace.c: RAS tracepoints from tracefs (per-CPU trace_pipe_raw + the events' format files) ---- */
typedef enum { TF_INT, TF_STR, TF_ARRAY } tf_kind;
typedef struct {
    char *name;
    unsigned offset, size;
    bool is_signed;
    tf_kind kind;  /* TF_STR: __data_loc char[] or char[N]; TF_ARRAY: other arrays */
    bool data_loc; /* __data_loc (or __rel_loc: offset from the field's end) */
    bool rel_loc;
} trace_field;
typedef struct {
    char *system, *name;
    unsigned id;
    trace_field *f;
    size_t nf;
} trace_format;
/* Parse one event's format file. -EBADMSG when it is not one. */
int trace_format_parse(const char *buf, size_t len, trace_format *out);
void trace_format_done(trace_format *f);
const trace_field *trace_field_find(const trace_format *f, const char *name);
/* Field values of one record (bounds-checked against the record's length). */
int trace_get_int(const trace_field *f, const uint8_t *rec, size_t len, int64_t *ret);
int trace_get_str(const trace_field *f, const uint8_t *rec, size_t len, char *buf, size_t buflen);
int trace_get_bytes(const trace_field *f, const uint8_t *rec, size_t len, const uint8_t **ret, size_t *ret_len);

/* The ring buffer page layout (events/header_page): offsets of the commit word and the data. */
typedef struct {
    unsigned ts_off, commit_off, commit_size, data_off;
    unsigned page_size;
} trace_page_layout;
int trace_header_page_parse(const char *buf, size_t len, trace_page_layout *out);
/* Walk one page: call @cb for each data record (type id = its first u16) with its absolute
 * timestamp (ns of the trace clock). Returns the number of records, -EBADMSG on a malformed page
 * (records before the damage are delivered). */
typedef int (*trace_record_cb)(void *u, const uint8_t *rec, size_t len, uint64_t ts);
int trace_page_walk(const trace_page_layout *l, const uint8_t *page, size_t len, trace_record_cb cb, void *u,
                    bool *ret_lost_events);

/* ---- ras.c: RAS trace records into HealthLog events ---- */
typedef struct {
    hl_event ev; /* its strings point into the buffers below */
    char message[256], detail[512], dimm[128], location[96], device[96];
} ras_record;
/* Convert one record of the event @f describes (system and name set). -ENOENT: not a RAS event
 * this daemon knows; -EBADMSG: a field is missing or out of the record. @edac_live: ras:mc_event
 * is traced too, so machine-check memory errors are kept uncounted (EDAC counts them). The
 * event's time is left to the caller. */
int ras_record_convert(const trace_format *f, const uint8_t *rec, size_t len, bool edac_live, ras_record *out);
/* "single" or "multi" when a driver's text says how many bits were wrong, else NULL. */
const char *ras_bits_from_text(const char *s);

/* ---- dmi.c: SMBIOS type 17 (Memory Device) ---- */
typedef struct {
    char locator[64], bank[64], manufacturer[64], part[64];
    int64_t size_mb;   /* 0: empty slot */
    int64_t speed_mts; /* 0: unknown */
    int64_t configured_mts;
    const char *type; /* "DDR4" ... */
} dmi_memdev;
int dmi_parse_type17(const uint8_t *raw, size_t len, dmi_memdev *out);

/* ---- vmlink.c: which VMs an error may have touched ---- */
typedef struct {
    char *name;
    int pid;
    int *vcpu_tids; /* index = vCPU number */
    size_t nvcpus;
    uint64_t (*ram)[2]; /* guest RAM mappings in QEMU's address space [start, end); none: found from maps */
    size_t nram;
} vm_info;
typedef struct {
    int vm;          /* index in the list */
    int vcpu;        /* -1 for memory links */
    const char *how; /* "ran_on", "pinned", "maps_page" */
} vm_hit;
/* CPU error on @cpu: VMs with a vCPU thread that last ran on it (/proc/PID/task/TID/stat field
 * 39) or whose affinity is pinned to a set including it (Cpus_allowed_list: fewer than the
 * @ncpu online CPUs; 0: this host's count). */
int vmlink_cpu(int proc_fd, const vm_info *vms, size_t n, int cpu, unsigned ncpu, vm_hit **ret, size_t *ret_n);
/* Memory error at physical @addr: VMs whose guest RAM maps that page (/proc/PID/pagemap over the
 * guest RAM mappings; root). -EPERM when pagemap hides frame numbers. */
int vmlink_memory(int proc_fd, const vm_info *vms, size_t n, uint64_t addr, vm_hit **ret, size_t *ret_n);
/* Guest RAM of a QEMU process from /proc/PID/maps: its large anonymous or memfd/hugetlbfs
 * mappings (rw, shared or private, at least @min_bytes). */
int vmlink_guest_ram(int proc_fd, int pid, uint64_t min_bytes, uint64_t (**ret)[2], size_t *ret_n);
/* The QEMU processes in @proc_fd, told and named as the local driver does (qemu_procs.c: the
 * executable, -name or "qemu-PID"), with their vCPU threads by their "CPU N/KVM" names. */
int vmlink_discover(int proc_fd, vm_info **ret, size_t *ret_n);
void vm_info_free(vm_info *v, size_t n);
