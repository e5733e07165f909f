/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The test driver's VMs: their list, their records with kvm_stat's counters, and the host's sums over them. */
#include "drivers/test/test.h"

/* The simulated VMs: vm-1 (2 vCPUs, 2 GiB) and vm-2 (1 vCPU, 1 GiB) run, vm-3 is shut off.
 * vm-2 is an OpenStack instance (what Nova's libvirt metadata would say) with a reliability
 * requirement. */
#define SIM_MEM_MB ((double)SB_NMC * SB_DIMMS * SB_DIMM_MB) /* the board's 16 GiB */
typedef struct {
    const char *name, *uuid, *tap, *mac;
    unsigned vcpus;
    double mem_mb;
    unsigned util_pct;      /* of its vCPUs */
    uint64_t swap_ms_per_s; /* swap-in wait */
    bool active;
    const char *os_name, *os_flavor, *os_user_id, *os_project_id, *os_project_name; /* Nova's */
    const char *reliability;
} sim_vm;
static const sim_vm sim_vms[] = {
    {"vm-1", "7b3f8a2e-5d41-4c6e-9a0b-1c2d3e4f5a61", "vnet0", "52:54:00:00:00:01", 2, 2048, 50, 8, true},
    {"vm-2", "7b3f8a2e-5d41-4c6e-9a0b-1c2d3e4f5a62", "vnet1", "52:54:00:00:00:02", 1, 1024, 25, 4, true, "db-1",
     "m1.small", "a1b2c3d4e5f60718293a4b5c6d7e8f90", "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "webteam", "high"},
    {"vm-3", "7b3f8a2e-5d41-4c6e-9a0b-1c2d3e4f5a63", "vnet2", "52:54:00:00:00:03", 4, 4096, 0, 0, false},
};
/* kvm_stat's counters of a simulated vCPU per second (VM-scope ones: per_vcpu 0, per VM). */
static const struct {
    const char *name;
    uint64_t per_vcpu_per_s; /* 0: a VM-scope statistic */
    bool per_vcpu;
} sim_kvm[] = {
    {"exits", 12000, true},         {"halt_exits", 800, true}, {"mmio_exits", 3000, true},     {"io_exits", 1500, true},
    {"irq_injections", 1000, true}, {"irq_exits", 400, true},  {"remote_tlb_flush", 0, false},
};
/* dom.kvm.NAME of VM v after t seconds: per-vCPU counters summed, VM-scope ones 5 per second. */
static uint64_t sim_kvm_vm(const sim_vm *v, size_t k, uint64_t t) {
    return sim_kvm[k].per_vcpu ? t * sim_kvm[k].per_vcpu_per_s * v->vcpus : t * 5;
}

/* The host's keys of its VMs: the sums and means of their records and kvm_stat's sums over the
 * running ones. */
void sim_vms_host(uniRecordPtr rec, const uni_select *sel, uint64_t t, bool first) {
    if (uni_select_group(sel, UNI_GROUP_VMS)) {
        /* The sums and means of the simulated VMs' records (sim_vm): vm-1 (2 GiB) and vm-2
         * (1 GiB) run, vm-3 is shut off. */
        double mem = 0, swap = 0, swap_pct = 0;
        unsigned active = 0;
        for (size_t i = 0; i < ELEMENTSOF(sim_vms); i++)
            if (sim_vms[i].active) {
                active++;
                mem += sim_vms[i].mem_mb;
                swap += (double)(t * sim_vms[i].swap_ms_per_s);
                swap_pct += 100.0 * (double)sim_vms[i].swap_ms_per_s / TICK_MS;
            }
        rec_u64(rec, UNI_M_HOST_VMS_COUNT, -1, NULL, ELEMENTSOF(sim_vms));
        rec_u64(rec, UNI_M_HOST_VMS_ACTIVE, -1, NULL, active);
        rec_dbl(rec, UNI_M_HOST_VMS_MEM_MB, -1, NULL, mem);
        rec_dbl(rec, UNI_M_HOST_VMS_MEM_PCT, -1, NULL, 100.0 * mem / SIM_MEM_MB);
        rec_dbl(rec, UNI_M_HOST_VMS_SWAP_WAIT_MS, -1, NULL, swap / active);
        if (!first)
            rec_dbl(rec, UNI_M_HOST_VMS_SWAP_WAIT_PCT, -1, NULL, swap_pct / active);
        else
            rec_absent(rec, UNI_M_HOST_VMS_SWAP_WAIT_PCT, "%s", WHY_FIRST);
    }
    if (uni_select_has(sel, UNI_M_KVM_NAME)) {
        /* kvm_stat's sums over the running VMs. */
        for (size_t k = 0; k < ELEMENTSOF(sim_kvm); k++) {
            uint64_t sum = 0;
            for (size_t i = 0; i < ELEMENTSOF(sim_vms); i++)
                if (sim_vms[i].active)
                    sum += sim_kvm_vm(&sim_vms[i], k, t);
            rec_u64(rec, UNI_M_KVM_NAME, -1, sim_kvm[k].name, sum);
        }
    }
}

/* ---- the VMs' own records ---- */

_Static_assert(ELEMENTSOF(sim_vms) == TEST_NVMS, "test.h's TEST_NVMS");

/* Where vCPU @c of VM @idx runs and may run (*@ret_map): at start core (2 idx + c) % 8 and its
 * PMD's two cores; once pinned, the pinned cores and, when its core is not among them, the
 * first of them. */
static int sim_vcpu_place(const test_state *s, unsigned idx, unsigned c, unsigned char *ret_map) {
    int core = (int)((2 * idx + c) % SB_NCPU);
    unsigned char pin = s->vm_pin[idx][c];
    if (!pin) {
        *ret_map = (unsigned char)(3u << (core & ~1));
        return core;
    }
    *ret_map = pin;
    if (!((pin >> core) & 1))
        core = __builtin_ctz(pin);
    return core;
}

/* The VM's reliability class as its record names it, or NULL when none was ever set. */
static const char *sim_reliability(const test_state *s, unsigned idx) {
    if (s->vm_reliability[idx])
        return uni_reliability_name(s->vm_reliability[idx] - 1);
    return sim_vms[idx].reliability;
}

static const char *const sim_dom_sources[] = {"simulated"};

static void sim_vm_info(const sim_vm *v, unsigned i, uni_domain_info *out) {
    memset(out, 0, sizeof(*out));
    out->name = strdup(v->name);
    memcpy(out->uuid, v->uuid, sizeof(out->uuid));
    out->active = v->active;
    out->id = v->active ? 4000 + (long long)i : -1;
}

int test_list_domains(uniConnectPtr conn, uni_domain_info **ret, size_t *ret_n) {
    uni_domain_info *out = calloc(ELEMENTSOF(sim_vms), sizeof(*out));
    (void)conn;
    if (!out) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    for (unsigned i = 0; i < ELEMENTSOF(sim_vms); i++) {
        sim_vm_info(&sim_vms[i], i, &out[i]);
        if (!out[i].name) {
            *ret = out;
            *ret_n = i;
            uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
            return -1;
        }
    }
    *ret = out;
    *ret_n = ELEMENTSOF(sim_vms);
    return 0;
}

/* One simulated VM's record after t seconds: vCPUs busy util_pct % of the time (a tenth of it
 * outside the guest: the interruption time), one NIC, one disk, kvm_stat's counters per vCPU. */
static void sim_vm_record(const test_state *s, const sim_vm *v, unsigned idx, uint64_t t, uint64_t prev_t,
                          uniRecordPtr rec) {
    bool first = prev_t == 0;
    uint64_t cpu_ms = t * 10 * v->util_pct * v->vcpus,
             cycles = cpu_ms * SB_MAX_KHZ; /* at full speed: kHz is cycles per ms */

    /* The window since the previous domain collection on this connection, in virtual time. */
    rec->window_ms = first ? -1 : (long long)((t - prev_t) * TICK_MS);
    rec_str(rec, UNI_M_DOM_SOURCE, -1, NULL, sim_dom_sources[0]);
    rec_str(rec, UNI_M_DOM_UUID, -1, NULL, v->uuid);
    rec_u64(rec, UNI_M_DOM_CPU_COUNT, -1, NULL, v->vcpus);
    rec_absent(rec, UNI_M_DOM_CPU_L3_CACHE_USAGE_KB, "the simulated X-Gene2 has no cache monitoring (resctrl)");
    rec_absent(rec, UNI_M_DOM_MEM_BANDWIDTH_TOTAL_MBPS,
               "the simulated X-Gene2 has no memory bandwidth monitoring (resctrl)");
    rec_absent(rec, UNI_M_DOM_MEM_BANDWIDTH_LOCAL_MBPS,
               "the simulated X-Gene2 has no memory bandwidth monitoring (resctrl)");
    {
        const struct {
            unsigned metric;
            const char *value;
        } os[] = {{UNI_M_DOM_OPENSTACK_NAME, v->os_name},
                  {UNI_M_DOM_OPENSTACK_FLAVOR, v->os_flavor},
                  {UNI_M_DOM_OPENSTACK_USER_ID, v->os_user_id},
                  {UNI_M_DOM_OPENSTACK_PROJECT_ID, v->os_project_id},
                  {UNI_M_DOM_OPENSTACK_PROJECT_NAME, v->os_project_name},
                  {UNI_M_DOM_RELIABILITY, sim_reliability(s, idx)}};
        for (size_t i = 0; i < ELEMENTSOF(os); i++) {
            if (os[i].value)
                rec_str(rec, os[i].metric, -1, NULL, os[i].value);
            else if (os[i].metric == UNI_M_DOM_RELIABILITY)
                rec_absent(rec, os[i].metric, "no reliability requirement has been set for this VM");
            else
                rec_absent(rec, os[i].metric, "the simulated domain is not an OpenStack instance");
        }
    }
    if (!v->active) {
        rec_str(rec, UNI_M_DOM_STATE, -1, NULL, "shut off");
        rec_u64(rec, UNI_M_DOM_STALE, -1, NULL, 0);
        /* Shut off all along: every probe found it down. */
        rec_dbl(rec, UNI_M_DOM_AVAILABILITY_PCT, -1, NULL, 0);
        for (unsigned m = 0; m < UNI_NMETRICS; m++)
            if (startswith(uni_catalog[m].key, "dom."))
                rec_absent(rec, m, "the domain is not running");
        return;
    }
    rec_str(rec, UNI_M_DOM_STATE, -1, NULL, "running");
    rec_u64(rec, UNI_M_DOM_STALE, -1, NULL, 0);
    rec_dbl(rec, UNI_M_DOM_AVAILABILITY_PCT, -1, NULL, 100); /* a simulated VM answers every probe */
    rec_u64(rec, UNI_M_DOM_PID, -1, NULL, 4000 + idx);
    rec_u64(rec, UNI_M_DOM_CPU_TIME_MS, -1, NULL, cpu_ms);
    if (!first)
        rec_dbl(rec, UNI_M_DOM_CPU_UTIL_PCT, -1, NULL, v->util_pct);
    else
        rec_absent(rec, UNI_M_DOM_CPU_UTIL_PCT, "%s", WHY_FIRST);
    rec_dbl(rec, UNI_M_DOM_MEM_USAGE_MB, -1, NULL, v->mem_mb - 256);
    rec_dbl(rec, UNI_M_DOM_MEM_RESIDENT_MB, -1, NULL, v->mem_mb);
    rec_dbl(rec, UNI_M_DOM_MEM_MB, -1, NULL, v->mem_mb);
    rec_dbl(rec, UNI_M_DOM_MEM_PCT, -1, NULL, 100.0 * v->mem_mb / SIM_MEM_MB);
    rec_u64(rec, UNI_M_DOM_INTERRUPT_MS, -1, NULL, cpu_ms / 10);
    rec_u64(rec, UNI_M_DOM_SWAP_WAIT_MS, -1, NULL, t * v->swap_ms_per_s);
    /* Errors the simulated HealthLog ties to this VM: vm-1 shares PMD 2's undervolted cores (a
     * corrected error every 10 s), vm-2 one DRAM row (an uncorrected error every 10 minutes). */
    {
        uint64_t ce = idx == 0 ? t / 10 : 0, ue = idx == 1 ? t / 600 : 0;
        rec_u64(rec, UNI_M_DOM_ERRORS_CE_COUNT, -1, NULL, ce);
        rec_u64(rec, UNI_M_DOM_ERRORS_UE_COUNT, -1, NULL, ue);
        rec_dbl(rec, UNI_M_DOM_ERRORS_CE_RATE_PER_MIN, -1, NULL, idx == 0 ? 6.0 : 0.0);
        rec_dbl(rec, UNI_M_DOM_ERRORS_UE_RATE_PER_MIN, -1, NULL, idx == 1 ? 0.1 : 0.0);
    }
    if (!first)
        rec_dbl(rec, UNI_M_DOM_SWAP_WAIT_PCT, -1, NULL, 100.0 * (double)v->swap_ms_per_s / TICK_MS);
    else
        rec_absent(rec, UNI_M_DOM_SWAP_WAIT_PCT, "%s", WHY_FIRST);
    rec_u64(rec, UNI_M_DOM_PERF_CYCLES, -1, NULL, cycles);
    rec_u64(rec, UNI_M_DOM_PERF_INSTRUCTIONS, -1, NULL, cycles * 3 / 2);
    rec_u64(rec, UNI_M_DOM_PERF_CACHE_REFERENCES, -1, NULL, cycles * 3 / 20);
    rec_u64(rec, UNI_M_DOM_PERF_CACHE_MISSES, -1, NULL, cycles * 3 / 400);
    /* One virtio NIC on a tap, 1.5 MB/s in and 250 kB/s out. */
    rec_str(rec, UNI_M_DOM_NET_I_NAME, 0, NULL, v->tap);
    rec_str(rec, UNI_M_DOM_NET_I_MAC, 0, NULL, v->mac);
    rec_str(rec, UNI_M_DOM_NET_I_FREF, 0, NULL, "clean-traffic");
    rec_u64(rec, UNI_M_DOM_NET_I_RX_BYTES, 0, NULL, t * 1500000);
    rec_u64(rec, UNI_M_DOM_NET_I_RX_PACKETS, 0, NULL, t * 1000);
    rec_u64(rec, UNI_M_DOM_NET_I_TX_BYTES, 0, NULL, t * 250000);
    rec_u64(rec, UNI_M_DOM_NET_I_TX_PACKETS, 0, NULL, t * 500);
    /* One disk: 40 reads (4 MB) and 10 writes (1 MB) a second, 2 ms each. */
    rec_str(rec, UNI_M_DOM_DISK_I_DEVICE, 0, NULL, "vda");
    rec_u64(rec, UNI_M_DOM_DISK_I_READ_BYTES, 0, NULL, t * 4194304);
    rec_u64(rec, UNI_M_DOM_DISK_I_READ_REQUESTS, 0, NULL, t * 40);
    rec_u64(rec, UNI_M_DOM_DISK_I_WRITE_BYTES, 0, NULL, t * 1048576);
    rec_u64(rec, UNI_M_DOM_DISK_I_WRITE_REQUESTS, 0, NULL, t * 10);
    rec_u64(rec, UNI_M_DOM_DISK_I_ERRORS, 0, NULL, 0);
    rec_u64(rec, UNI_M_DOM_DISK_I_CAPACITY_BYTES, 0, NULL, 10737418240ull);
    rec_u64(rec, UNI_M_DOM_DISK_I_ALLOCATION_BYTES, 0, NULL, 2147483648ull + t * 1048576);
    rec_u64(rec, UNI_M_DOM_DISK_I_PHYSICAL_BYTES, 0, NULL, 2147483648ull + t * 1048576);
    if (!first) {
        rec_dbl(rec, UNI_M_DOM_NET_I_RX_BYTES_RATE, 0, NULL, 1500000);
        rec_dbl(rec, UNI_M_DOM_NET_I_TX_BYTES_RATE, 0, NULL, 250000);
        rec_dbl(rec, UNI_M_DOM_DISK_I_READ_BYTES_RATE, 0, NULL, 4194304);
        rec_dbl(rec, UNI_M_DOM_DISK_I_READ_REQUESTS_RATE, 0, NULL, 40);
        rec_dbl(rec, UNI_M_DOM_DISK_I_WRITE_BYTES_RATE, 0, NULL, 1048576);
        rec_dbl(rec, UNI_M_DOM_DISK_I_WRITE_REQUESTS_RATE, 0, NULL, 10);
        rec_dbl(rec, UNI_M_DOM_DISK_I_LATENCY_MS, 0, NULL, 2);
        rec_dbl(rec, UNI_M_DOM_DISK_I_IOPS, 0, NULL, 50);
    } else {
        static const unsigned rates[] = {UNI_M_DOM_NET_I_RX_BYTES_RATE,     UNI_M_DOM_NET_I_TX_BYTES_RATE,
                                         UNI_M_DOM_DISK_I_READ_BYTES_RATE,  UNI_M_DOM_DISK_I_READ_REQUESTS_RATE,
                                         UNI_M_DOM_DISK_I_WRITE_BYTES_RATE, UNI_M_DOM_DISK_I_WRITE_REQUESTS_RATE,
                                         UNI_M_DOM_DISK_I_LATENCY_MS,       UNI_M_DOM_DISK_I_IOPS};
        for (size_t i = 0; i < ELEMENTSOF(rates); i++)
            rec_absent(rec, rates[i], "%s", WHY_FIRST);
    }
    /* vCPU c of VM idx runs on core (2 idx + c) % 8, pinned to its PMD's two cores, until
     * uniDomainPinVcpu places it elsewhere (sim_vcpu_place). */
    for (unsigned c = 0; c < v->vcpus; c++) {
        unsigned char map = 0;
        int core = sim_vcpu_place(s, idx, c, &map);
        char pin[32];
        uni_cpumap_format(&map, 1, pin, sizeof(pin));
        rec_u64(rec, UNI_M_DOM_VCPU_V_TIME_MS, (int)c, NULL, cpu_ms / v->vcpus);
        rec_u64(rec, UNI_M_DOM_VCPU_V_CPU, (int)c, NULL, (uint64_t)core);
        rec_str(rec, UNI_M_DOM_VCPU_V_PINNING, (int)c, NULL, pin);
        rec_u64(rec, UNI_M_DOM_VCPU_V_TID, (int)c, NULL, 4100 + 10 * idx + c);
    }
    rec_str(rec, UNI_M_DOM_KVMSTATS_SOURCE, -1, NULL, "simulated");
    for (size_t k = 0; k < ELEMENTSOF(sim_kvm); k++)
        rec_u64(rec, UNI_M_DOM_KVM_NAME, -1, sim_kvm[k].name, sim_kvm_vm(v, k, t));
    for (unsigned c = 0; c < v->vcpus; c++)
        for (size_t k = 0; k < ELEMENTSOF(sim_kvm); k++)
            if (sim_kvm[k].per_vcpu)
                rec_u64(rec, UNI_M_DOM_VCPU_V_KVM_NAME, (int)c, sim_kvm[k].name, t * sim_kvm[k].per_vcpu_per_s);
}

int test_domain_stats(uniConnectPtr conn, const uni_select *sel, const uni_domain_info *only, size_t nonly,
                      uni_domain_stats **ret, size_t *ret_n) {
    test_state *s = conn->priv;
    uint64_t t = ++s->tick;
    uni_domain_stats *out = calloc(ELEMENTSOF(sim_vms), sizeof(*out));
    size_t n = 0;

    if (!out) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    *ret = out;
    for (size_t o = 0; o < (only ? nonly : 1); o++)
        for (unsigned i = 0; i < ELEMENTSOF(sim_vms); i++) {
            uni_domain_info info;
            bool dup = false;
            sim_vm_info(&sim_vms[i], i, &info);
            if (!info.name || (only && !uni_domain_info_matches(&info, &only[o]))) {
                uni_domain_info_done(&info);
                continue;
            }
            for (size_t k = 0; k < n && !dup; k++)
                dup = streq(out[k].info.name, info.name);
            if (dup || !(out[n].rec = uni_record_new(uni_catalog, UNI_NMETRICS))) {
                uni_domain_info_done(&info);
                if (dup)
                    continue;
                *ret_n = n;
                uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
                return -1;
            }
            out[n].info = info;
            out[n].rec->sel = sel;
            sim_vm_record(s, &sim_vms[i], i, t, s->dom_tick, out[n].rec);
            n++;
        }
    *ret_n = n;
    s->dom_tick = t;
    return 0;
}

/* ---- the spec's Table 4 and the reliability class ---- */

/* The simulated VM @dom denotes, or -1 with UNI_ERR_NO_DOMAIN. */
static int sim_find(const uni_domain_info *dom) {
    for (unsigned i = 0; i < ELEMENTSOF(sim_vms); i++) {
        uni_domain_info info = {.name = (char *)sim_vms[i].name, .active = sim_vms[i].active};
        memcpy(info.uuid, sim_vms[i].uuid, sizeof(info.uuid));
        if (uni_domain_info_matches(&info, dom))
            return (int)i;
    }
    uni_error_set(UNI_ERR_NO_DOMAIN, "no domain '%s' on test:///default (vm-1, vm-2, vm-3)", dom->name);
    return -1;
}

/* CPU time of a simulated VM at the current virtual time, ns (as its record's dom.cpu.time_ms). */
static uint64_t sim_cpu_ns(const test_state *s, const sim_vm *v) {
    return v->active ? s->tick * 10 * v->util_pct * v->vcpus * 1000000ull : 0;
}

int test_domain_get_info(uniConnectPtr conn, const uni_domain_info *dom, uniDomainInfo *ret) {
    const test_state *s = conn->priv;
    int i = sim_find(dom);
    const sim_vm *v;
    if (i < 0)
        return -1;
    v = &sim_vms[i];
    /* Started as "-smp N,maxcpus=2N -m M": as much memory as its maximum. */
    *ret = (uniDomainInfo){.state = v->active ? UNI_DOMAIN_RUNNING : UNI_DOMAIN_SHUTOFF,
                           .maxMem = (unsigned long long)v->mem_mb * 1024,
                           .memory = (unsigned long long)v->mem_mb * 1024,
                           .nrVirtCpu = (unsigned short)v->vcpus,
                           .cpuTime = sim_cpu_ns(s, v),
                           .maxVcpus = 2 * v->vcpus};
    return 0;
}

int test_domain_get_xml(uniConnectPtr conn, const uni_domain_info *dom, char **ret) {
    int i = sim_find(dom), n;
    const sim_vm *v;
    char id[32] = "";
    (void)conn;
    if (i < 0)
        return -1;
    v = &sim_vms[i];
    if (v->active) /* libvirt's id of a running domain (its record's dom.pid) */
        snprintf(id, sizeof(id), " id='%d'", 4000 + i);
    n = asprintf(ret,
                 "<domain type='kvm'%s>\n"
                 "  <name>%s</name>\n"
                 "  <uuid>%s</uuid>\n"
                 "  <memory unit='KiB'>%llu</memory>\n"
                 "  <currentMemory unit='KiB'>%llu</currentMemory>\n"
                 "  <vcpu placement='static' current='%u'>%u</vcpu>\n"
                 "  <os>\n    <type arch='aarch64' machine='virt'>hvm</type>\n  </os>\n"
                 "  <devices>\n"
                 "    <disk type='file' device='disk'>\n"
                 "      <source file='/var/lib/uniserver/sim/%s.qcow2'/>\n"
                 "      <target dev='vda' bus='virtio'/>\n"
                 "    </disk>\n"
                 "    <interface type='ethernet'>\n"
                 "      <mac address='%s'/>\n"
                 "      <target dev='%s'/>\n"
                 "      <model type='virtio'/>\n"
                 "    </interface>\n"
                 "  </devices>\n"
                 "</domain>\n",
                 id, v->name, v->uuid, (unsigned long long)v->mem_mb * 1024, (unsigned long long)v->mem_mb * 1024,
                 v->vcpus, 2 * v->vcpus, v->name, v->mac, v->tap);
    if (n < 0) {
        *ret = NULL;
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    return 0;
}

/* The simulated VMs run under CFS with libvirt's defaults: 1024 shares, no quota. */
int test_domain_get_sched(uniConnectPtr conn, const uni_domain_info *dom, char **ret_type, uniSchedParam **ret) {
    static const uniSchedParam params[] = {{"cpu_shares", 1024}, {"vcpu_period", 100000}, {"vcpu_quota", -1}};
    (void)conn;
    if (sim_find(dom) < 0)
        return -1;
    *ret_type = strdup("posix");
    *ret = malloc(sizeof(params));
    if (!*ret_type || !*ret) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    memcpy(*ret, params, sizeof(params));
    return (int)ELEMENTSOF(params);
}

/* The running simulated VM @dom denotes (its index in *@ret_i), or NULL with the error set. */
static const sim_vm *sim_running(const uni_domain_info *dom, int *ret_i) {
    int i = sim_find(dom);
    if (i < 0)
        return NULL;
    if (!sim_vms[i].active) {
        uni_error_set(UNI_ERR_NO_DATA, "domain '%s' is not running: it has no vCPU threads", sim_vms[i].name);
        return NULL;
    }
    *ret_i = i;
    return &sim_vms[i];
}

int test_domain_get_vcpus(uniConnectPtr conn, const uni_domain_info *dom, uniVcpuInfo **ret_info,
                          unsigned char **ret_maps, int *ret_ncpus) {
    const test_state *s = conn->priv;
    int i = -1;
    const sim_vm *v = sim_running(dom, &i);
    if (!v)
        return -1;
    *ret_info = calloc(v->vcpus, sizeof(**ret_info));
    *ret_maps = calloc(v->vcpus, UNI_CPU_MAPLEN(SB_NCPU));
    if (!*ret_info || !*ret_maps) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    for (unsigned c = 0; c < v->vcpus; c++) {
        int core = sim_vcpu_place(s, (unsigned)i, c, &(*ret_maps)[c * UNI_CPU_MAPLEN(SB_NCPU)]);
        (*ret_info)[c] =
            (uniVcpuInfo){.number = c, .state = UNI_VCPU_RUNNING, .cpuTime = sim_cpu_ns(s, v) / v->vcpus, .cpu = core};
    }
    *ret_ncpus = SB_NCPU;
    return (int)v->vcpus;
}

int test_domain_pin_vcpu(uniConnectPtr conn, const uni_domain_info *dom, unsigned vcpu, const unsigned char *map,
                         int maplen) {
    test_state *s = conn->priv;
    unsigned char before = 0, after = 0;
    char obj[96], b[32], a[32];
    int i = -1;
    /* Everything is checked before the change: the VM runs, the vCPU, then each CPU of the map. */
    const sim_vm *v = sim_running(dom, &i);

    if (!v)
        return -1;
    if (vcpu >= v->vcpus) {
        uni_error_set(UNI_ERR_INVALID_ARG, "vCPU %u of '%s' does not exist (it has %u: 0-%u)", vcpu, v->name, v->vcpus,
                      v->vcpus - 1);
        return -1;
    }
    for (int c = 0; c < maplen * 8; c++)
        if (uni_cpumap_has(map, maplen, c)) {
            if (c >= SB_NCPU)
                return uni_error_no_core(c, false, "0-7");
            after |= (unsigned char)(1u << c);
        }
    sim_vcpu_place(s, (unsigned)i, vcpu, &before);
    uni_cpumap_format(&before, 1, b, sizeof(b));
    uni_cpumap_format(&after, 1, a, sizeof(a));
    snprintf(obj, sizeof(obj), "domain %s vcpu %u", v->name, vcpu);
    s->vm_pin[i][vcpu] = after;
    uni_audit(conn, obj, "affinity", b, a, 0, false);
    return 0;
}

/* Each vCPU's time on the core it runs on. */
int test_domain_get_cpu_stats(uniConnectPtr conn, const uni_domain_info *dom, unsigned long long **ret) {
    const test_state *s = conn->priv;
    int i = sim_find(dom);
    const sim_vm *v;
    if (i < 0)
        return -1;
    v = &sim_vms[i];
    if (!(*ret = calloc(SB_NCPU, sizeof(**ret)))) {
        uni_error_set(UNI_ERR_NO_MEMORY, "out of memory");
        return -1;
    }
    for (unsigned c = 0; v->active && c < v->vcpus; c++) {
        unsigned char map;
        (*ret)[sim_vcpu_place(s, (unsigned)i, c, &map)] += sim_cpu_ns(s, v) / v->vcpus;
    }
    return SB_NCPU;
}

int test_domain_get_reliability(uniConnectPtr conn, const uni_domain_info *dom) {
    const test_state *s = conn->priv;
    int i = sim_find(dom);
    const char *name;
    if (i < 0)
        return -1;
    name = sim_reliability(s, (unsigned)i);
    return name ? uni_reliability_parse(name) : UNI_RELIABILITY_NORMAL;
}

int test_domain_set_reliability(uniConnectPtr conn, const uni_domain_info *dom, int cls) {
    test_state *s = conn->priv;
    int i = sim_find(dom);
    const char *before;
    char obj[96];
    if (i < 0)
        return -1;
    before = sim_reliability(s, (unsigned)i);
    snprintf(obj, sizeof(obj), "domain %s", sim_vms[i].name);
    s->vm_reliability[i] = (int8_t)(cls + 1);
    uni_audit(conn, obj, "reliability", before ? before : "", uni_reliability_name(cls), 0, false);
    return 0;
}
