/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local driver's VM sources: pure parsers of what QEMU processes, QMP, taskstats and the
 * kernel's KVM binary statistics say (text or bytes in, struct out; tested on literal strings),
 * and the interfaces between the VM collectors (qemu_procs.c, qmp.c, taskstats.c, perf.c,
 * kvmstats.c, libvirt.c) and the orchestration in domains*.c. */
#pragma once

#include <sys/types.h>

#include "uniserver/uniserver.h"
#include "util/util.h"

#define UUID_STRING_LEN 36

/* ---- /proc/PID/stat and /proc/PID/task/TID/stat ---- */
typedef struct {
    char comm[64];         /* between the first '(' and the last ')', cut to fit */
    char state;            /* R S D T t Z ... */
    uint64_t flags;        /* field 9: PF_* (PF_KTHREAD, PF_USER_WORKER ...) */
    uint64_t utime, stime; /* clock ticks; utime includes guest time (kernel/sched/cputime.c) */
    uint64_t starttime;    /* ticks after boot: with the PID, the identity of a process */
    uint64_t num_threads;  /* field 20 */
    uint64_t rss_pages;    /* field 24 */
    int processor;         /* field 39: the CPU the task last ran on; -1 when not given */
    uint64_t guest_time;   /* field 43: time spent running a guest (vCPU), ticks */
    bool have_guest_time;
} pid_stat;
/* The command name may hold spaces and parentheses: fields are counted after the LAST ')'.
 * -EBADMSG when there is no "(comm)", fewer than 24 fields, or a number is malformed. */
int parse_pid_stat(const char *buf, size_t len, pid_stat *out);
/* QEMU names its vCPU threads "CPU N/KVM" (with -name ...,debug-threads=on): -EINVAL for any
 * other name. */
int parse_vcpu_thread_name(const char *comm, unsigned *ret_index);

/* ---- the QEMU command line (/proc/PID/cmdline: NUL-separated argv) ---- */
typedef struct {
    char *id;     /* -netdev id / -nic's own */
    char *type;   /* tap, user, bridge, vhost-user ... */
    char *ifname; /* host interface (tap), or NULL */
    char *mac;    /* from -nic mac= or the -device that uses this netdev, or NULL */
} qemu_nic;

typedef struct {
    bool is_qemu;                   /* argv[0] is qemu-system-* or qemu-kvm */
    char *name;                     /* -name NAME, -name guest=NAME,...; NULL when not given */
    bool debug_threads;             /* -name ...,debug-threads=on: vCPU threads are named "CPU N/KVM" */
    char uuid[UUID_STRING_LEN + 1]; /* -uuid, lower case; "" when not given */
    char *qmp_path;                 /* the first QMP monitor on a unix socket (-qmp unix:PATH, -qmp-pretty,
                           * -chardev socket,path=PATH + -mon chardev=ID,mode=control), or NULL */
    bool qmp_fd_only;               /* a QMP monitor exists but on a passed fd (libvirt): not reachable */
    unsigned smp;                   /* -smp: vCPUs at start; 0 when not given (QEMU's default is 1) */
    uint64_t mem_mb;                /* -m, in MiB; 0 when not given */
    qemu_nic *nics;
    size_t nnics;
} qemu_cmdline;
/* -EBADMSG when argv is empty; every option QEMU would reject is ignored rather than failing:
 * the command line is what a running QEMU accepted. */
int parse_qemu_cmdline(const char *buf, size_t len, qemu_cmdline *out);
void qemu_cmdline_done(qemu_cmdline *c);
/* QemuOpts ("implied,key=value,flag,key2=a,,b"): the value of @key, with ",," unescaped, in a
 * new string; a bare "flag" reads as "on". @implied names the key of a first element without
 * '=' (-name's "guest", -chardev's "backend"), or NULL. -ENOENT when absent. */
int qemu_opts_get(const char *opts, const char *key, const char *implied, char **ret);

/* ---- a QEMU process in /proc (qemu_procs.c; the local driver's discovery and uni-healthd's) ---- */
/* Is process @pid (its directory's name under the procfs @proc_fd) a QEMU? Its executable's name
 * (qemu-system-*, qemu-kvm, kvm; " (deleted)" after an upgrade under it), else, where exe is
 * unreadable without ptrace rights over the process, its comm (qemu-system-*, qemu-kvm). */
bool qemu_proc_is_qemu(int proc_fd, const char *pid);
/* @rel under the procfs @proc_fd (PID/stat, PID/task/TID/stat) read and parsed (parse_pid_stat). */
int qemu_proc_read_stat(int proc_fd, const char *rel, pid_stat *ps);
/* The name process @pid goes by: -name's, else "qemu-PID"; NULL when out of memory. */
char *qemu_proc_name(const qemu_cmdline *c, pid_t pid);

/* ---- /proc/net/dev ---- */
typedef struct {
    uint64_t rx_bytes, rx_packets, tx_bytes, tx_packets;
} netdev_counters;
/* The counters of interface @ifname; -ENOENT when it is not listed, -EBADMSG when malformed. */
int parse_net_dev(const char *buf, size_t len, const char *ifname, netdev_counters *out);

/* ---- taskstats (generic netlink) ---- */
typedef struct {
    uint16_t version;
    uint64_t swapin_count, swapin_delay_total_ns;
    uint64_t cpu_count, cpu_delay_total_ns, blkio_delay_total_ns;
} taskstats_delays;
/* Parse one netlink datagram answering TASKSTATS_CMD_GET for thread group @tgid: -EBADMSG when
 * malformed or truncated, -errno of an NLMSG_ERROR, -ENOENT when it is about another task. */
int parse_taskstats_reply(const void *buf, size_t len, uint32_t tgid, taskstats_delays *out);
/* Parse the CTRL_CMD_GETFAMILY answer: the family id of "TASKSTATS". */
int parse_genl_family_id(const void *buf, size_t len, uint16_t *ret_id);

/* ---- KVM statistics, whatever the source ---- */
typedef enum {
    KVM_STAT_CUMULATIVE, /* a counter */
    KVM_STAT_INSTANT,    /* a level (pages_4k, guest_mode) */
    KVM_STAT_PEAK,       /* a high-water mark (max_mmu_rmap_size) */
} kvm_stat_kind;
/* One scalar statistic as a source reported it; vcpu is -1 for a VM-scope statistic. */
typedef void (*kvm_stat_cb)(void *userdata, int vcpu, const char *name, kvm_stat_kind kind, uint64_t value);

/* ---- QMP replies: query-stats read in place from its text; the others as json-c objects (the
 * text form qmp_parse_reply_text parses a literal reply, for tests) ---- */
struct json_object;
/* query-stats for target "vm" (@qom_paths NULL) or "vcpu", from the text of its "return": every
 * scalar statistic (numbers and booleans; histograms are skipped) to @cb. For vCPUs, @qom_paths
 * maps a result's "qom-path" to the vCPU index (the i-th path is vCPU i); a result whose path is
 * not listed is skipped. Returns the number of results, or -EBADMSG when malformed. */
int qmp_parse_stats(const char *ret, size_t len, const char *const *qom_paths, size_t npaths, kvm_stat_cb cb,
                    void *userdata);
/* The member @name of the JSON object @msg (validated whole): 1 with its value's text, 0 when it
 * has none, -EBADMSG when @msg is not one well-formed object. */
/* The JSON reader qmp.c frames messages with (qmp_parse.c): nesting it accepts, and the string
 * at @p (its opening quote): the end past the closing quote, or NULL when malformed; with @buf,
 * its text unescaped and NUL-terminated there (NULL when it does not fit, or has a NUL or a lone
 * surrogate). */
#define QMP_JSON_MAX_DEPTH 64
const char *qmp_json_string(const char *p, const char *e, char *buf, size_t size);
int qmp_message_member(const char *msg, size_t len, const char *name, const char **ret, size_t *ret_len);
/* query-stats-schemas: the kind of each statistic (cumulative, instant, peak); unknown -> cumulative. */
kvm_stat_kind qmp_stat_kind(struct json_object *schemas, const char *target, const char *name);
typedef struct {
    int index; /* cpu-index */
    pid_t tid; /* thread-id */
    char *qom_path;
} qmp_cpu;
/* query-cpus-fast: vCPUs in the order given; free with qmp_cpus_free. */
int qmp_parse_cpus(struct json_object *ret, qmp_cpu **ret_cpus, size_t *ret_n);
void qmp_cpus_free(qmp_cpu *c, size_t n);
typedef struct {
    char *device; /* "device", else "qdev", else "node-name" */
    uint64_t rd_bytes, wr_bytes, rd_ops, wr_ops, failed_rd, failed_wr, rd_time_ns, wr_time_ns;
    bool have_capacity;
    uint64_t capacity, allocation; /* from query-block's inserted.image, when asked */
} qmp_disk;
int qmp_parse_blockstats(struct json_object *ret, qmp_disk **ret_disks, size_t *ret_n);
/* query-block: capacity (virtual-size) and allocation (actual-size) into the disks of the same
 * device name. */
void qmp_apply_block(struct json_object *ret, qmp_disk *disks, size_t n);
void qmp_disks_free(qmp_disk *d, size_t n);
/* query-status: QEMU's run state ("running", "paused", ...) mapped to the spec's words. */
int qmp_parse_status(struct json_object *ret, const char **ret_state);
/* query-balloon: the guest's current memory ("actual", bytes). */
int qmp_parse_balloon(struct json_object *ret, uint64_t *ret_bytes);
/* Parse a whole QMP reply text ({"return": ...}) and hand its "return" to @fn (tests). */
int qmp_parse_reply_text(const char *text, int (*fn)(struct json_object *ret, void *userdata), void *userdata);

/* ---- the QMP client (qmp.c): every VM's conversation at once, each under its deadline ---- */
typedef enum {
    QMP_Q_STATUS,
    QMP_Q_CPUS,
    QMP_Q_STATS_VM,
    QMP_Q_STATS_VCPU,
    QMP_Q_SCHEMAS,
    QMP_Q_BLOCKSTATS,
    QMP_Q_BLOCK,
    QMP_Q_BALLOON,
    QMP_NQ
} qmp_query;
typedef struct qmp_job {
    const char *path;   /* the monitor's unix socket */
    unsigned want;      /* bit (1 << qmp_query) per query */
    char *text[QMP_NQ]; /* the text of each answered query's "return" (owned), or NULL */
    size_t len[QMP_NQ];
    struct json_object *reply[QMP_NQ]; /* text parsed by qmp_reply, when asked */
    char *error[QMP_NQ];               /* QEMU's error for a query that failed, or NULL */
    int err;                           /* -errno when the conversation failed */
    bool unanswered;                   /* the monitor did not answer: the deadline passed before every
                                    * answer came, or it accepts no connection (its queue is full) */
    char why[160];                     /* what failed, for the absence reasons */
    uint64_t elapsed_ns;
} qmp_job;
/* Run every job's conversation concurrently (at most 64 sockets at a time, in one poll()), each job under its
 * own deadline of @deadline_ms from its connect. Returns 0 (per-job failures are in the jobs),
 * or -ENOMEM. */
int qmp_run(qmp_job *jobs, size_t n, unsigned deadline_ms);
/* A query's answer as json-c's object (parsed on first use), or NULL. */
struct json_object *qmp_reply(qmp_job *j, qmp_query q);
void qmp_job_done(qmp_job *j);

/* ---- taskstats.c: one generic netlink socket per connection ---- */
typedef struct taskstats_conn taskstats_conn;
/* -errno when generic netlink or the TASKSTATS family is not there. */
int taskstats_open(taskstats_conn **ret);
/* Delays of thread group @tgid (its live and exited threads). */
int taskstats_get_tgid(taskstats_conn *c, pid_t tgid, taskstats_delays *ret);
void taskstats_close(taskstats_conn *c);

/* ---- perf.c: hardware counters of a VM's threads ---- */
typedef enum { PERF_CYCLES, PERF_INSTRUCTIONS, PERF_CACHE_REFERENCES, PERF_CACHE_MISSES, PERF_NEVENTS } perf_event_id;
/* Can this host count hardware events of other tasks? 0, or -errno with a reason in @why. */
int perf_probe(char *why, size_t whylen);
typedef struct perf_vm perf_vm;
/* Count the hardware events of threads @tids (a VM's vCPUs), opened once; threads new since the
 * last call are added. Sums since the counters were opened go to @ret_counts. */
int perf_vm_read(perf_vm **pv, const pid_t *tids, size_t ntids, uint64_t ret_counts[PERF_NEVENTS]);
void perf_vm_free(perf_vm *pv);

/* ---- kvmstats.c: the kernel's binary statistics (KVM_GET_STATS_FD) ---- */
struct kvm_stats_header_view {
    uint32_t flags, name_size, num_desc, id_offset, desc_offset, data_offset;
};
/* Parse a stats fd's header and descriptors (the bytes at offset 0 .. data_offset+size): calls
 * @cb for every scalar statistic with the value read from @data. -EBADMSG when the header or a
 * descriptor is inconsistent (offsets outside the buffer, a name without NUL). */
int kvm_stats_parse(const void *buf, size_t len, int vcpu, kvm_stat_cb cb, void *userdata);
typedef struct kvm_binstats kvm_binstats;
/* Open the stats fds of QEMU process @pid's VM and vCPUs by injecting ioctl(KVM_GET_STATS_FD)
 * into QEMU with ptrace and fetching the new fds with pidfd_getfd. -errno with a reason. */
int kvm_binstats_open(pid_t pid, kvm_binstats **ret, char *why, size_t whylen);
/* Read every statistic (one pread per fd). */
int kvm_binstats_read(kvm_binstats *b, kvm_stat_cb cb, void *userdata);
/* The number of vCPU slots (highest vCPU index + 1). */
unsigned kvm_binstats_nvcpu(const kvm_binstats *b);
void kvm_binstats_close(kvm_binstats *b);

/* ---- small helpers ---- */
/* Lower-case canonical UUID text from any case; -EINVAL when not 8-4-4-4-12 hex digits. */
int uuid_canonical(const char *s, char out[UUID_STRING_LEN + 1]);

/* ---- libvirt.c: libvirt's domains and their statistics ---- */
typedef struct lv_conn lv_conn;
/* What a libvirt domain's metadata says of it: Nova's instance element (OpenStack's instance
 * name, flavor, user and project; nova is false without it) and the reliability requirement an
 * allocator or operator set under LV_UNISERVER_NS (`virsh metadata DOM urn:uniserver:libvirt:1
 * --key uniserver --set '<reliability>high</reliability>'`). NULL: not there. */
#define LV_UNISERVER_NS "urn:uniserver:libvirt:1"
typedef struct {
    bool nova;
    char *name, *flavor, *user_id, *project_id, *project_name;
    char *reliability;
} lv_meta;
void lv_meta_done(lv_meta *m);
typedef struct {
    char *name;
    char uuid[UUID_STRING_LEN + 1];
    int id; /* -1 when inactive */
    bool active;
    bool has_meta; /* meta was read (meta_due said so) */
    lv_meta meta;
} lv_dom_info;
/* Open @uri read-only; -errno with libvirt's message in @why. */
int lv_open(const char *uri, lv_conn **ret, char *why, size_t whylen);
void lv_close(lv_conn *c);
const char *lv_uri(const lv_conn *c);
/* Is a domain's metadata to be read now? @watched: libvirt announces metadata changes (the native
 * client registers for VIR_DOMAIN_EVENT_ID_METADATA_CHANGE); @changed: it announced a change of
 * this domain since the last listing, or may have missed one (a connection opened since). */
typedef bool (*lv_meta_due_fn)(const char *uuid, bool watched, bool changed, void *ud);
/* Every domain, active and inactive, with the metadata of those @meta_due (may be NULL) asks
 * for (two more round trips each); free with lv_infos_free. */
int lv_list(lv_conn *c, lv_meta_due_fn meta_due, void *ud, lv_dom_info **ret, size_t *ret_n);
void lv_infos_free(lv_dom_info *v, size_t n);

/* The spec's Table 4 and the reliability class on libvirt domain @uuid (@name for the errors),
 * through libvirt (libvirt_ops.c), as vms_domain_* (domains.h) give them; the control calls open
 * a read-write connection for themselves, check, audit, read back and roll back. */
int lv_dom_get_info(lv_conn *c, const char *uuid, const char *name, uniDomainInfo *ret);
int lv_dom_get_xml(lv_conn *c, const char *uuid, const char *name, char **ret);
int lv_dom_get_sched(lv_conn *c, const char *uuid, const char *name, char **ret_type, uniSchedParam **ret);
int lv_dom_get_vcpus(lv_conn *c, const char *uuid, const char *name, uniVcpuInfo **ret_info, unsigned char **ret_maps,
                     int *ret_ncpus);
int lv_dom_get_cpu_stats(lv_conn *c, const char *uuid, const char *name, unsigned long long **ret);
int lv_dom_pin_vcpu(uniConnectPtr conn, lv_conn *c, const char *uuid, const char *name, unsigned vcpu,
                    const unsigned char *map, int maplen);
int lv_dom_get_reliability(lv_conn *c, const char *uuid, const char *name, bool *ret_set);
int lv_dom_set_reliability(uniConnectPtr conn, lv_conn *c, const char *uuid, const char *name, int cls);

/* Statistics of libvirt's domains for one collection (one virConnectGetAllDomainStats call,
 * the groups the records use, without waiting for busy domains). */
typedef struct lv_stats lv_stats;
typedef struct lv_layout lv_layout;
int lv_stats_get(lv_conn *c, lv_stats **ret);
void lv_stats_free(lv_stats *s);
/* The domains of @s, as lv_list gives them, where @s came whole from the native client (its
 * records are every domain, active and inactive): 1 with the list, 0 when @s cannot say (call
 * lv_list), -ENOMEM. One round trip a sample fewer. */
int lv_stats_list(lv_conn *c, lv_stats *s, lv_meta_due_fn meta_due, void *ud, lv_dom_info **ret, size_t *ret_n);
/* Add to @rec what libvirt says of domain @uuid and @rec lacks (state, CPU time, memory, vCPUs,
 * pinning, NICs, disks, perf); its KVM statistics (vm.NAME.*, vcpu.V.NAME.*) go to @cb when it is
 * not NULL. Falls back to per-domain calls (virDomainGetInfo, virDomainMemoryStats,
 * virDomainGetVcpus) for drivers whose bulk statistics are thin. Returns 1 when libvirt had
 * statistics of the domain, 0 when not (a domain busy with a job: stale), -ENOMEM. */
int lv_fill(lv_conn *c, lv_stats *st, const char *uuid, uniRecordPtr rec, kvm_stat_cb cb, void *ud, lv_layout **layout);
/* What lv_fill learnt of one domain's statistics (through the native client), for its next
 * calls on the same domain: NULL at first; free with lv_layout_free. A KVM statistic's name
 * then reaches @cb as rec_intern's pointer. */
void lv_layout_free(lv_layout *l);
