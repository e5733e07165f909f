/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which VMs an error may have touched. A CPU error is linked to the VMs with a vCPU thread that
 * last ran on that core (/proc/PID/task/TID/stat field 39, "processor") or whose allowed CPUs
 * (Cpus_allowed_list, what sched_getaffinity returns) are a pinned set including it; a memory
 * error with a physical address to the VMs whose guest RAM maps that page frame (/proc/PID/maps
 * for the guest RAM mappings, /proc/PID/pagemap for their frames; frame numbers need
 * CAP_SYS_ADMIN). The VM list (QEMU pid, vCPU thread ids, guest RAM) comes from the caller, or
 * from vmlink_discover, which tells QEMU processes, their names and their vCPU threads as the
 * local driver does (qemu_procs.c), so that a link names a VM as its domain record does. */
#include <dirent.h>
#include <fcntl.h>

#include "drivers/local/vms.h"
#include "healthd.h"

void vm_info_free(vm_info *v, size_t n) {
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].name);
        free(v[i].vcpu_tids);
        free(v[i].ram);
    }
    free(v);
}

static int add_hit(vm_hit **h, size_t *n, int vm, int vcpu, const char *how) {
    vm_hit *nh = realloc(*h, (*n + 1) * sizeof(*nh));
    if (!nh)
        return -ENOMEM;
    *h = nh;
    nh[(*n)++] = (vm_hit){.vm = vm, .vcpu = vcpu, .how = how};
    return 0;
}

/* The thread's allowed CPUs (Cpus_allowed_list in status): 1 when @cpu is in a pinned set (fewer
 * CPUs than the @ncpu the host has online), 0 otherwise. */
static int thread_pinned_to(int proc_fd, int pid, int tid, int cpu, unsigned ncpu) {
    char path[64], buf[4096];
    const char *line;
    ssize_t n;
    uint8_t mask[1024];
    unsigned count;

    snprintf(path, sizeof(path), "%d/task/%d/status", pid, tid);
    n = read_file_at(proc_fd, path, buf, sizeof(buf));
    if (n < 0)
        return (int)n;
    line = strstr(buf, "\nCpus_allowed_list:");
    if (!line)
        return -EBADMSG;
    line += strlen("\nCpus_allowed_list:");
    while (*line == '\t' || *line == ' ')
        line++;
    if (parse_cpu_list(line, strcspn(line, "\n"), mask, sizeof(mask) * 8, &count) < 0)
        return -EBADMSG;
    if (cpu < 0 || (size_t)cpu >= sizeof(mask) * 8)
        return 0;
    return count < ncpu && (mask[cpu / 8] & (1u << (cpu % 8))) ? 1 : 0;
}

int vmlink_cpu(int proc_fd, const vm_info *vms, size_t n, int cpu, unsigned ncpu, vm_hit **ret, size_t *ret_n) {
    vm_hit *h = NULL;
    size_t nh = 0;
    int r = 0;

    if (ncpu == 0)
        ncpu = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    for (size_t i = 0; i < n && r >= 0; i++)
        for (size_t v = 0; v < vms[i].nvcpus && r >= 0; v++) {
            int tid = vms[i].vcpu_tids[v];
            char rel[64];
            pid_stat ps;
            if (tid <= 0)
                continue;
            /* Field 39 of /proc/PID/task/TID/stat: the CPU the thread last ran on. */
            snprintf(rel, sizeof(rel), "%d/task/%d/stat", vms[i].pid, tid);
            if (qemu_proc_read_stat(proc_fd, rel, &ps) == 0 && ps.processor == cpu)
                r = add_hit(&h, &nh, (int)i, (int)v, "ran_on");
            else if (thread_pinned_to(proc_fd, vms[i].pid, tid, cpu, ncpu) == 1)
                r = add_hit(&h, &nh, (int)i, (int)v, "pinned");
        }
    if (r < 0) {
        free(h);
        return r;
    }
    *ret = h;
    *ret_n = nh;
    return 0;
}

int vmlink_guest_ram(int proc_fd, int pid, uint64_t min_bytes, uint64_t (**ret)[2], size_t *ret_n) {
    char path[64];
    _cleanup_free_ char *buf = NULL;
    uint64_t(*ram)[2] = NULL;
    size_t nram = 0;
    ssize_t n;

    snprintf(path, sizeof(path), "%d/maps", pid);
    n = read_file_at_alloc(proc_fd, path, &buf);
    if (n < 0)
        return (int)n;
    for (char *line = buf; line < buf + n;) {
        char *nl = memchr(line, '\n', (size_t)(buf + n - line)), *dash, *p, *end;
        uint64_t lo, hi;
        size_t tl;
        const char *perms, *tok, *pathname = "";
        int field = 0;

        if (!nl)
            nl = buf + n;
        *nl = 0;
        end = nl;
        dash = strchr(line, '-');
        p = dash ? strchr(dash, ' ') : NULL;
        if (!dash || !p || p - dash - 1 <= 0)
            goto next;
        {
            char a[20], b[20];
            size_t al = (size_t)(dash - line), bl = (size_t)(p - dash - 1);
            char *e1, *e2;
            if (al >= sizeof(a) || bl >= sizeof(b))
                goto next;
            memcpy(a, line, al);
            a[al] = 0;
            memcpy(b, dash + 1, bl);
            b[bl] = 0;
            errno = 0;
            lo = strtoull(a, &e1, 16);
            hi = strtoull(b, &e2, 16);
            if (errno || *e1 || *e2 || hi <= lo)
                goto next;
        }
        perms = next_token(p, end, &tl);
        if (tl < 4)
            goto next;
        /* offset, dev, inode, then the path (may hold blanks). */
        tok = perms + tl;
        for (field = 0; field < 3; field++) {
            tok = next_token(tok, end, &tl);
            tok += tl;
        }
        while (tok < end && (*tok == ' ' || *tok == '\t'))
            tok++;
        pathname = tok;
        /* Guest RAM: large, readable and writable; anonymous, or a memfd / hugetlbfs / shm
         * backing file (memory-backend-memfd, -mem-path). */
        if (perms[0] == 'r' && perms[1] == 'w' && hi - lo >= min_bytes &&
            (!*pathname || startswith(pathname, "/memfd:") || strstr(pathname, "huge") ||
             startswith(pathname, "/dev/shm/"))) {
            uint64_t(*nr)[2] = realloc(ram, (nram + 1) * sizeof(*nr));
            if (!nr) {
                free(ram);
                return -ENOMEM;
            }
            ram = nr;
            ram[nram][0] = lo;
            ram[nram][1] = hi;
            nram++;
        }
    next:
        line = nl + 1;
    }
    *ret = ram;
    *ret_n = nram;
    return 0;
}

#define PM_PRESENT (1ull << 63)
#define PM_PFN_MASK ((1ull << 55) - 1)

/* Does @pid map frame @pfn in [lo, hi)? 1 yes (*ret_va set), 0 no, -EPERM when frame numbers are
 * hidden (every present page reads as frame 0). */
static int maps_frame(int fd, uint64_t lo, uint64_t hi, uint64_t pfn, long page, uint64_t *ret_va) {
    static uint64_t ent[8192];
    bool any_present = false, any_pfn = false;

    for (uint64_t va = lo; va < hi;) {
        size_t want = (size_t)((hi - va) / (uint64_t)page);
        ssize_t n;
        if (want > ELEMENTSOF(ent))
            want = ELEMENTSOF(ent);
        if (want == 0)
            break;
        n = pread(fd, ent, want * 8, (off_t)(va / (uint64_t)page * 8));
        if (n < 0)
            return -errno;
        if (n < 8)
            break;
        for (size_t i = 0; i < (size_t)n / 8; i++) {
            if (!(ent[i] & PM_PRESENT))
                continue;
            any_present = true;
            if (ent[i] & PM_PFN_MASK)
                any_pfn = true;
            if ((ent[i] & PM_PFN_MASK) == pfn) {
                *ret_va = va + i * (uint64_t)page;
                return 1;
            }
        }
        va += (uint64_t)(n / 8) * (uint64_t)page;
    }
    return any_present && !any_pfn ? -EPERM : 0;
}

int vmlink_memory(int proc_fd, const vm_info *vms, size_t n, uint64_t addr, vm_hit **ret, size_t *ret_n) {
    long page = sysconf(_SC_PAGESIZE);
    uint64_t pfn;
    vm_hit *h = NULL;
    size_t nh = 0;
    int r = 0, denied = 0;

    if (page <= 0)
        page = 4096;
    pfn = addr / (uint64_t)page;
    for (size_t i = 0; i < n && r >= 0; i++) {
        char path[64];
        _cleanup_close_ int fd = -1;
        uint64_t(*ram)[2] = vms[i].ram;
        size_t nram = vms[i].nram;
        _cleanup_free_ uint64_t(*found)[2] = NULL;

        if (!ram && vmlink_guest_ram(proc_fd, vms[i].pid, 16u << 20, &found, &nram) == 0)
            ram = found;
        snprintf(path, sizeof(path), "%d/pagemap", vms[i].pid);
        fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        for (size_t k = 0; k < nram; k++) {
            uint64_t va;
            int m = maps_frame(fd, ram[k][0], ram[k][1], pfn, page, &va);
            if (m == -EPERM)
                denied++;
            if (m == 1) {
                r = add_hit(&h, &nh, (int)i, -1, "maps_page");
                break;
            }
        }
    }
    if (r < 0) {
        free(h);
        return r;
    }
    if (nh == 0 && denied) {
        free(h);
        return -EPERM;
    }
    *ret = h;
    *ret_n = nh;
    return 0;
}

int vmlink_discover(int proc_fd, vm_info **ret, size_t *ret_n) {
    _cleanup_closedir_ DIR *d = opendir_at(proc_fd, ".");
    struct dirent *de;
    vm_info *v = NULL;
    size_t n = 0;
    int r = 0;

    if (!d)
        return -errno;
    while ((de = readdir(d)) && r >= 0) {
        char path[300];
        _cleanup_free_ char *cmd = NULL;
        unsigned pid;
        ssize_t cl;
        qemu_cmdline qc = {0};
        vm_info vi = {0};
        _cleanup_closedir_ DIR *td = NULL;

        if (safe_atou(de->d_name, &pid) < 0 || !qemu_proc_is_qemu(proc_fd, de->d_name))
            continue;
        snprintf(path, sizeof(path), "%u/cmdline", pid);
        cl = read_file_at_alloc(proc_fd, path, &cmd);
        if (cl > 0 && parse_qemu_cmdline(cmd, (size_t)cl, &qc) == -ENOMEM) {
            r = -ENOMEM;
            break;
        }
        vi.pid = (int)pid;
        vi.name = qemu_proc_name(&qc, (pid_t)pid);
        qemu_cmdline_done(&qc);
        snprintf(path, sizeof(path), "%u/task", pid);
        if ((td = opendir_at(proc_fd, path))) {
            struct dirent *te;
            while ((te = readdir(td))) {
                unsigned tid, idx;
                char tc[64];
                if (safe_atou(te->d_name, &tid) < 0)
                    continue;
                snprintf(path, sizeof(path), "%u/task/%u/comm", pid, tid);
                /* vCPU threads are "CPU N/KVM" with -name ...,debug-threads=on (libvirt sets it). */
                if (read_line_at(proc_fd, path, tc, sizeof(tc)) < 0 || parse_vcpu_thread_name(tc, &idx) < 0 ||
                    idx > 4096)
                    continue;
                if (idx >= vi.nvcpus) {
                    int *nt = realloc(vi.vcpu_tids, (idx + 1) * sizeof(int));
                    if (!nt)
                        break;
                    memset(nt + vi.nvcpus, 0, (idx + 1 - vi.nvcpus) * sizeof(int));
                    vi.vcpu_tids = nt;
                    vi.nvcpus = idx + 1;
                }
                vi.vcpu_tids[idx] = (int)tid;
            }
        }
        {
            vm_info *nv = realloc(v, (n + 1) * sizeof(*nv));
            if (nv)
                v = nv;
            if (!nv || !vi.name) {
                free(vi.name);
                free(vi.vcpu_tids);
                r = -ENOMEM;
                break;
            }
            v[n++] = vi;
        }
    }
    if (r < 0) {
        vm_info_free(v, n);
        return r;
    }
    *ret = v;
    *ret_n = n;
    return 0;
}
