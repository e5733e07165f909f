/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The inside of the local driver's VMs (domains*.c): the state of a host's VMs and of one VM's
 * collection, and the helpers the files of one collection share. */
#pragma once

#include <sched.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "domains.h"
#include "parsers.h"
#include "util/probewin.h"
#include "vms.h"

#define DEFAULT_DEADLINE_MS 1000
#define MAX_VCPUS 4096

typedef enum { KSRC_QMP, KSRC_BINARY, KSRC_OFF } kvm_source;

typedef struct {
    char *name;
    uint64_t v[6];
} io_prev;

/* The vCPU threads of a QEMU process, kept between collections while its thread count holds. */
typedef struct {
    pid_t tid;
    int index;
    int fd;         /* /proc/PID/task/TID/stat */
    int sfd;        /* /proc/PID/task/TID/schedstat (-1: not there) */
    cpu_set_t pin;  /* its affinity when last read, */
    char *pin_list; /* as text (NULL: not yet) */
} vcpu_thread_fd;
typedef struct {
    vcpu_thread_fd *t;
    size_t n;
    uint64_t num_threads; /* of the process when the cache was made; 0: no cache */
} vcpu_cache;

/* A VM's KVM statistics by name, kept from one collection to the next (a VM's set of statistics
 * does not change: each collection only overwrites the values). */
typedef struct {
    const char *name; /* rec_intern's (owned false), else strdup's */
    bool owned;
    kvm_stat_kind kind; /* a statistic's kind does not change: given when the entry is made, */
    bool kind_fixed;    /* and put right once from QEMU's schemas */
    uint32_t vm_round;  /* the round (kstats.round) vm_value was given in */
    uint64_t vm_value;
    uint64_t *vcpu; /* per vCPU index, nvcpu entries */
    uint32_t *vcpu_round;
} kstat;

typedef struct {
    kstat *e;
    size_t n;
    unsigned nvcpu;
    size_t nseen;   /* values given since kstats_begin */
    uint32_t round; /* counts kstats_begin: a value of another round is an old one */
    size_t guess;   /* the entry kstat_get tries first */
    int err;
    uint32_t *slot; /* open-addressing index of e by name: entry + 1, 0 empty */
    size_t nslots;
} kstats;

typedef struct vm {
    char *name;
    char uuid[UUID_STRING_LEN + 1];
    /* the QEMU process, when there is one on this host */
    bool have_proc;
    pid_t pid;
    uint64_t starttime;
    ino_t ino;     /* of /proc/PID as readdir gave it: a new process under the same PID has another */
    int stat_fd;   /* /proc/PID/stat, kept open and read with pread */
    int pidfd;     /* pidfd_open(PID): says when the process has exited; -1 on fixture trees */
    vcpu_cache vc; /* the vCPU threads last found */
    qemu_cmdline cmd;
    char *qmp; /* the QMP socket to use, or NULL */
    /* libvirt's view, when libvirt knows the domain */
    bool in_libvirt;
    int lv_id;
    bool lv_active;
    lv_meta meta;     /* its metadata (Nova's, the reliability requirement) */
    uint64_t meta_ns; /* when it was read; 0: never */
    bool seen;
    /* the previous sample of each source, for rates: its time and values */
    uint64_t prev_ns; /* the previous collection of this VM, whatever it read */
    uint64_t prev_cpu_ns, prev_cpu_ticks, prev_swap_t_ns, prev_swap_ns, net_prev_ns, disk_prev_ns;
    bool have_prev_cpu, have_prev_swap;
    io_prev *net_prev, *disk_prev;
    size_t nnet_prev, ndisk_prev;
    perf_vm *perf;
    kvm_binstats *bin;
    char *bin_why;         /* why they could not be opened ... */
    uint64_t bin_retry_ns; /* ... and when to try again (0: never: the failure is not transient) */
    char **qom;            /* the vCPUs' QOM paths by index (query-cpus-fast), kept for query-stats */
    size_t nqom;
    bool qom_stale;            /* query-stats named a vCPU the map lacks: ask again */
    kstats ks;                 /* its KVM statistics */
    size_t rec_n, rec_nabsent; /* the size of its record to make room for (the last one's) */
    lv_layout *lvl;            /* what libvirt's statistics of it look like (libvirt.c) */
    probewin *probes;          /* its availability probes (domains_avail.c), or NULL */
} vm;

/* A /proc entry seen by the last scan: whether it is a QEMU process, so that each process's
 * executable is looked at once (d_ino tells a new process under a reused PID apart). */
typedef struct {
    pid_t pid;
    ino_t ino;
    bool qemu;
    uint64_t first_ns; /* when a scan first listed it */
} proc_entry;

/* Sums over the VMs' records, for the host rows (host.vms.*, kvm.NAME). */
typedef struct {
    const char *name; /* rec_intern's (owned false), else strdup's */
    bool owned;
    uint64_t v;
    bool peak;
    bool seen; /* in this summary (the names stay from one summary to the next) */
} host_kstat;
typedef struct {
    bool valid;
    uint64_t at_ns;
    size_t n, active, nswap, nswap_pct;
    double mem, swap, swap_pct;
    host_kstat *hk;
    size_t nhk;
    char *why_swap, *why_kvm;
} vms_summary;

struct vms_state {
    proc_entry *seen;
    size_t nseen;
    /* Skipping the scan of /proc: the last PID the kernel gave out (/proc/loadavg's 5th field)
     * when the last scan ran, and whether that scan left young processes to look at again. */
    int loadavg_fd;
    long last_pid;
    uint64_t scan_ns;
    bool young;
    int proc_fd;
    char *procfs;
    bool host_proc;
    char *sysfs; /* ?sysfs=, where VMs of another /proc are pinned (domains_board.c); NULL: none */
    long hz, pagesize;
    unsigned deadline_ms;
    kvm_source ksrc;
    vm **v;
    size_t n;
    taskstats_conn *ts;
    int ts_err;
    bool ts_tried;
    bool perf_probed;
    int perf_err;
    char perf_why[256];
    json_object *schemas;      /* query-stats-schemas, asked once */
    vms_summary last;          /* sums of the last full collection, for the host record after it */
    bool dacct_read, dacct_on; /* kernel.task_delayacct, read once per collection */
    int dacct_err;
    int dacct_fd; /* /proc/sys/kernel/task_delayacct kept open; -1 until first opened */
    lv_conn *lv;
    char *lv_uri;     /* asked for (?libvirt=) or the default */
    char lv_why[256]; /* why libvirt is not used, or "" */
    bool lv_explicit;
    char *rel_state;         /* ?reliability_state=FILE, or NULL: the default */
    unsigned avail_window_s; /* ?vm_availability_window_s=: the window of dom.availability_pct */
    char *flavor_classes;    /* ?flavor_classes=FILE, or NULL: the default */
    char *flavor_text;       /* that file's text as last read, or NULL */
    struct stat flavor_st;   /* and its stat then (read again when it changes) */
};

typedef struct {
    pid_t tid;
    int index; /* vCPU index, or -1 for QEMU's other threads */
    pid_stat st;
    vcpu_thread_fd *kept; /* its entry in the VM's vcpu_cache, or NULL */
} thread_info;

typedef struct {
    vms_state *s;
    vm *v;
    uniRecordPtr rec;
    const uni_select *sel;
    qmp_job *job; /* this VM's QMP answers, or NULL */
    uint64_t now;
    double mem_total_mb;
    const char *netdev; /* /proc/net/dev of this sample, or NULL */
    size_t netdev_len;
    lv_stats *lvst;       /* libvirt's statistics of this collection, or NULL */
    thread_info *threads; /* vCPU threads by index (index -1: not found) */
    unsigned nvcpu;
    bool stopped; /* the QEMU process is stopped (SIGSTOP, tracer) */
} vm_ctx;

/* ---- flavor_classes.c: a Nova VM's class from its flavor's name ---- */
/* The class the table's text gives @flavor ("<class> TAB <name>" lines), or -ENOENT. */
int flavor_class_parse(const char *text, size_t len, const char *flavor);
/* The class uniserver-placement-sync's table gives @flavor (NULL: none), or -ENOENT. */
int vms_flavor_class(vms_state *s, const char *flavor);
const char *vms_flavor_classes_path(const vms_state *s);

/* ---- domains.c: opening and closing ---- */
void io_prev_free(io_prev *p, size_t n);
void vcpu_cache_drop(vcpu_cache *c);
void qom_drop(vm *v);
void vm_free(vm *v);

/* ---- domains_discover.c: discovery ---- */
/* Refresh the VM list: new QEMU processes and libvirt domains in, the gone ones out. @lvst:
 * libvirt's statistics of this collection, or NULL. */
int discover(vms_state *s, lv_stats *lvst);
/* /proc/PID/stat of a VM's process through its kept-open fd. */
int read_vm_stat(vms_state *s, vm *v, pid_stat *ps);
/* Has the VM's process exited? (With a pidfd: it polls readable.) */
bool vm_exited(vm *v);
int vm_info(const vm *v, uni_domain_info *out);

/* ---- domains_kstats.c: KVM statistics, gathered from a source, emitted per vCPU, VM and host ---- */
/* A statistic's name for a table kept between samples: rec_intern's (records then refer to it),
 * else a copy the table owns (*@owned: free it); NULL when out of memory. */
const char *keep_name(const char *name, bool *owned);
/* A sample of a kept name: referred to when it is rec_intern's, else copied. */
int rec_u64_kept(uniRecordPtr rec, unsigned metric, int index, const char *name, bool owned, uint64_t v);
/* kvm_stat_cb into a VM's kstats. */
void kstats_cb(void *ud, int vcpu, const char *name, kvm_stat_kind kind, uint64_t value);
/* Set a statistic's kind, and tell the exposition (rec_name_set_kind). */
void kstat_set_kind(kstat *e, kvm_stat_kind kind);
void kstats_done(kstats *k);
/* A new round of values for @n vCPU slots. */
void kstats_begin(kstats *k, unsigned n);
/* dom.kvm.NAME and dom.vcpu.V.kvm.NAME into @rec. */
void kstats_emit(kstats *k, uniRecordPtr rec);

/* ---- domains_record.c: one VM's record ---- */
/* Does the collection's selection want metric @m (any of @ms)? */
static inline bool wants(const vm_ctx *c, unsigned m) {
    return uni_select_has(c->sel, m);
}

static inline bool wants_any(const vm_ctx *c, const unsigned *ms, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (wants(c, ms[i]))
            return true;
    return false;
}

static inline uint64_t ticks_ms(const vm_ctx *c, uint64_t ticks) {
    return jiffies_to_ms(ticks, c->s->hz);
}

/* Its vCPU threads (domains_vcpus.c): c->threads and c->nvcpu, from the cache while it holds;
 * -1 when they cannot be told. */
int vm_find_vcpus(vm_ctx *c, const pid_stat *ps);
/* dom.cpu.count and dom.vcpu.V.{time_ms,cpu,pinning,tid,wait_ms}. */
void vm_collect_vcpus(vm_ctx *c);
/* The metrics of each source of a VM's record (the sizes are checked against the definitions). */
extern const unsigned vcpu_metrics[6], perf_metrics[4], net_metrics[9], disk_metrics[15], kvm_metrics[3];
/* The whole record of VM @c->v (with its QMP answers in c->job). */
int collect_vm(vm_ctx *c);

/* ---- domains_summary.c: the host rows (host.vms.*, kvm.NAME) ---- */
void summary_done(vms_summary *m);
/* After a collection of every VM, keep the sums the host record that follows needs. */
void keep_summary(vms_state *s, const uni_select *sel, const uni_domain_stats *v, size_t n);

/* ---- domains_avail.c: each VM's availability (dom.availability_pct) ---- */
/* ?vm_availability_window_s=: seconds from 1 to 30 days (NULL: the default, 3600) into *ret. */
int vm_availability_window_parse(const char *v, unsigned *ret);
/* One probe of VM @c->v from the record collect_vm made, and its share of answered probes. */
void vm_availability(vm_ctx *c);

/* ---- domains_board.c: VMs of another /proc (the simulated board's) ---- */
/* The CPUs of the tree's sysfs (devices/system/cpu/possible: the highest + 1), 1 when unreadable. */
int board_ncpus(vms_state *s);
/* vCPU thread @tid's affinity from its /proc status (Cpus_allowed_list); -errno. */
int board_vcpu_affinity(vms_state *s, const vm *v, pid_t tid, cpu_set_t *set);
/* A CPU list ("0-3,8") as a set; -errno. */
int cpu_set_of_list(const char *list, cpu_set_t *set);
/* Pin through the VM's cgroup v2 vcpuN/cpuset.cpus under ?sysfs=, read back, audited; -1 with
 * the thread's error set. */
int board_pin_vcpu(uniConnectPtr conn, vms_state *s, const vm *v, unsigned vcpu, pid_t tid, const unsigned char *map,
                   int maplen);
