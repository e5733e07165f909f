/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parsers of what a QEMU process says about itself in /proc: its command line (name, UUID, QMP
 * socket, vCPUs, memory, NICs), /proc/PID/stat of the process and of its threads, VmRSS, the
 * vCPU thread names, and the tap devices' counters in /proc/net/dev; and the few reads of /proc
 * that tell a QEMU process, shared by the local driver (domains_discover.c) and uni-healthd
 * (vmlink.c). */
#include <ctype.h>

#include "vms.h"

/* ---------------------------------------------------------------------------------------------
 * /proc/PID/stat
 * ------------------------------------------------------------------------------------------- */

int parse_pid_stat(const char *buf, size_t len, pid_stat *out) {
    const char *end = buf + len, *open, *close = NULL, *p;
    unsigned field = 3; /* the first field after ") " is field 3, state */

    memset(out, 0, sizeof(*out));
    out->processor = -1;
    open = memchr(buf, '(', len);
    if (!open)
        return -EBADMSG;
    /* The name may itself hold ") ": only the last ')' closes it (no field after it has one). */
    close = memrchr(open + 1, ')', (size_t)(end - open - 1));
    if (!close)
        return -EBADMSG;
    {
        size_t n = (size_t)(close - open - 1);
        if (n >= sizeof(out->comm))
            n = sizeof(out->comm) - 1;
        memcpy(out->comm, open + 1, n);
        out->comm[n] = 0;
    }
    p = close + 1;
    for (;;) {
        size_t tl;
        const char *tok = next_token(p, end, &tl);
        uint64_t v = 0;
        int r;

        if (tl == 0 || field > 43)
            break; /* the end, or past the last field read (guest_time) */
        if (field == 3) {
            if (tl != 1)
                return -EBADMSG;
            out->state = tok[0];
        } else if (field == 39) {
            /* A signed field; negative values do not occur for "processor". */
            r = safe_atou64_n(tok, tl, &v);
            if (r < 0 || v > INT32_MAX)
                return -EBADMSG;
            out->processor = (int)v;
        } else if (field == 9 || field == 14 || field == 15 || field == 20 || field == 22 || field == 24 ||
                   field == 43) {
            r = safe_atou64_n(tok, tl, &v);
            if (r < 0)
                return -EBADMSG;
            switch (field) {
            case 9:
                out->flags = v;
                break;
            case 14:
                out->utime = v;
                break;
            case 15:
                out->stime = v;
                break;
            case 20:
                out->num_threads = v;
                break;
            case 22:
                out->starttime = v;
                break;
            case 24:
                out->rss_pages = v;
                break;
            default:
                out->guest_time = v;
                out->have_guest_time = true;
            }
        }
        field++;
        p = tok + tl;
    }
    /* Every kernel since 2.6 has at least the 24 fields up to rss. */
    return field > 24 ? 0 : -EBADMSG;
}

int parse_vcpu_thread_name(const char *comm, unsigned *ret_index) {
    const char *slash;
    uint64_t v;

    if (!startswith(comm, "CPU "))
        return -EINVAL;
    slash = strchr(comm + 4, '/');
    if (!slash || !streq(slash, "/KVM") || safe_atou64_n(comm + 4, (size_t)(slash - comm - 4), &v) < 0 || v > 65535)
        return -EINVAL;
    *ret_index = (unsigned)v;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * The QEMU command line
 * ------------------------------------------------------------------------------------------- */

/* The next element of a QemuOpts string starting at *p: [start, end) with ",," kept escaped. */
static bool opts_next(const char **p, const char **ret_start, const char **ret_end) {
    const char *s = *p, *e = s;

    if (!s || !*s)
        return false;
    for (;;) {
        if (*e == ',' && e[1] == ',') {
            e += 2;
            continue;
        }
        if (!*e || *e == ',')
            break;
        e++;
    }
    *ret_start = s;
    *ret_end = e;
    *p = *e ? e + 1 : e;
    return true;
}

static char *unescape(const char *s, const char *e) {
    char *out = malloc((size_t)(e - s) + 1), *o = out;
    if (!out)
        return NULL;
    while (s < e) {
        if (*s == ',' && s + 1 < e && s[1] == ',')
            s++;
        *o++ = *s++;
    }
    *o = 0;
    return out;
}

int qemu_opts_get(const char *opts, const char *key, const char *implied, char **ret) {
    const char *p = opts, *s, *e;
    bool first = true;
    size_t kl = strlen(key);

    while (opts_next(&p, &s, &e)) {
        const char *eq = memchr(s, '=', (size_t)(e - s));
        if (!eq) {
            if (first && implied && streq(key, implied)) {
                *ret = unescape(s, e);
                return *ret ? 0 : -ENOMEM;
            }
            /* A bare flag: "server" is server=on, "nowait" is wait=off. */
            if ((size_t)(e - s) == kl && memcmp(s, key, kl) == 0) {
                *ret = strdup("on");
                return *ret ? 0 : -ENOMEM;
            }
            if ((size_t)(e - s) == kl + 2 && memcmp(s, "no", 2) == 0 && memcmp(s + 2, key, kl) == 0) {
                *ret = strdup("off");
                return *ret ? 0 : -ENOMEM;
            }
        } else if ((size_t)(eq - s) == kl && memcmp(s, key, kl) == 0) {
            *ret = unescape(eq + 1, e);
            return *ret ? 0 : -ENOMEM;
        }
        first = false;
    }
    return -ENOENT;
}

static bool opt_is_on(const char *opts, const char *key) {
    _cleanup_free_ char *v = NULL;
    return qemu_opts_get(opts, key, NULL, &v) == 0 && (streq(v, "on") || streq(v, "yes") || streq(v, "true"));
}

/* Options whose value is the next argument (QEMU 7.2's qemu-options.hx, HAS_ARG). Only these are
 * skipped over as values, so that a value is never read as an option ("-append '-name x'"). */
static const char *const opts_with_arg[] = {
    "D",
    "L",
    "accel",
    "acpitable",
    "action",
    "add-fd",
    "append",
    "audio",
    "audiodev",
    "bios",
    "blockdev",
    "boot",
    "cdrom",
    "chardev",
    "chroot",
    "compat",
    "cpu",
    "d",
    "debugcon",
    "device",
    "dfilter",
    "display",
    "drive",
    "dump-vmstate",
    "echr",
    "fsdev",
    "fw_cfg",
    "gdb",
    "global",
    "icount",
    "incoming",
    "initrd",
    "iscsi",
    "k",
    "kernel",
    "loadvm",
    "m",
    "machine",
    "mem-path",
    "mon",
    "monitor",
    "msg",
    "mtdblock",
    "name",
    "net",
    "netdev",
    "nic",
    "numa",
    "object",
    "option-rom",
    "overcommit",
    "parallel",
    "pflash",
    "pidfile",
    "plugin",
    "qmp",
    "qmp-pretty",
    "readconfig",
    "rotate",
    "rtc",
    "runas",
    "sandbox",
    "sd",
    "seed",
    "serial",
    "set",
    "smbios",
    "smp",
    "spice",
    "tpmdev",
    "trace",
    "usbdevice",
    "uuid",
    "vga",
    "virtfs",
    "vnc",
    "watchdog-action",
    "xen-domid",
    "M",
    "hda",
    "hdb",
    "hdc",
    "hdd",
    "fda",
    "fdb",
    "semihosting-config",
    "g",
    "prom-env",
    "qtest",
    "qtest-log",
    "tb-size",
};

static bool takes_arg(const char *opt) {
    for (size_t i = 0; i < ELEMENTSOF(opts_with_arg); i++)
        if (streq(opt, opts_with_arg[i]))
            return true;
    return false;
}

static uint64_t mul_sat(uint64_t a, uint64_t b) {
    return b && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

/* -m SIZE[M|G|...] (plain numbers are MiB), or size=SIZE,... */
static uint64_t parse_mem_mb(const char *val) {
    _cleanup_free_ char *size = NULL;
    size_t n;
    uint64_t v, mul = 1;
    char suf;

    if (qemu_opts_get(val, "size", "size", &size) < 0)
        return 0;
    n = strlen(size);
    if (n == 0)
        return 0;
    suf = (char)tolower((unsigned char)size[n - 1]);
    if (!isdigit((unsigned char)suf)) {
        n--;
        switch (suf) {
        case 'k':
            mul = 0;
            break; /* KiB: below one MiB unless large */
        case 'm':
            mul = 1;
            break;
        case 'g':
            mul = 1024;
            break;
        case 't':
            mul = 1024 * 1024;
            break;
        case 'b':
            mul = 0;
            break;
        default:
            return 0;
        }
    }
    if (safe_atou64_n(size, n, &v) < 0)
        return 0;
    if (mul == 0)
        return suf == 'k' ? v / 1024 : v >> 20;
    return mul_sat(v, mul);
}

/* -smp N, or cpus=N,..., or a topology whose product is the count. */
static unsigned parse_smp(const char *val) {
    static const char *const topo[] = {"sockets", "dies", "clusters", "cores", "threads"};
    _cleanup_free_ char *cpus = NULL;
    unsigned v, product = 1;
    bool any = false;

    if (qemu_opts_get(val, "cpus", "cpus", &cpus) == 0 && safe_atou(cpus, &v) == 0 && v > 0)
        return v;
    for (size_t i = 0; i < ELEMENTSOF(topo); i++) {
        _cleanup_free_ char *t = NULL;
        if (qemu_opts_get(val, topo[i], NULL, &t) == 0 && safe_atou(t, &v) == 0 && v > 0 && v < 65536) {
            product *= v;
            any = true;
        }
    }
    return any && product < 65536 ? product : 0;
}

static qemu_nic *add_nic(qemu_cmdline *c) {
    qemu_nic *n = realloc(c->nics, (c->nnics + 1) * sizeof(*n));
    if (!n)
        return NULL;
    c->nics = n;
    memset(&n[c->nnics], 0, sizeof(*n));
    return &n[c->nnics++];
}

typedef struct {
    char *id, *path;
} chardev_sock;

int uuid_canonical(const char *s, char out[UUID_STRING_LEN + 1]) {
    static const int dash[] = {8, 13, 18, 23};
    size_t n = strlen(s);

    if (n != UUID_STRING_LEN)
        return -EINVAL;
    for (size_t i = 0, d = 0; i < n; i++) {
        if (d < ELEMENTSOF(dash) && (int)i == dash[d]) {
            if (s[i] != '-')
                return -EINVAL;
            out[i] = '-';
            d++;
        } else if (isxdigit((unsigned char)s[i]))
            out[i] = (char)tolower((unsigned char)s[i]);
        else
            return -EINVAL;
    }
    out[n] = 0;
    return 0;
}

static bool argv0_is_qemu(const char *a) {
    const char *base = strrchr(a, '/');
    base = base ? base + 1 : a;
    return startswith(base, "qemu-system-") || streq(base, "qemu-kvm") || streq(base, "kvm");
}

int parse_qemu_cmdline(const char *buf, size_t len, qemu_cmdline *out) {
    const char **argv = NULL;
    size_t argc = 0;
    chardev_sock *socks = NULL;
    size_t nsocks = 0;
    char **mons = NULL; /* chardev ids of -mon ...,mode=control */
    size_t nmons = 0;
    int r = 0;

    memset(out, 0, sizeof(*out));
    /* argv: NUL-separated; the last may lack its NUL if the buffer was cut. */
    for (size_t i = 0; i < len;) {
        const char *a = buf + i;
        size_t l = strnlen(a, len - i);
        const char **na;
        if (i + l == len)
            break; /* unterminated last argument: not trusted */
        na = realloc(argv, (argc + 1) * sizeof(*na));
        if (!na) {
            r = -ENOMEM;
            goto out;
        }
        argv = na;
        argv[argc++] = a;
        i += l + 1;
    }
    if (argc == 0) {
        r = -EBADMSG;
        goto out;
    }
    out->is_qemu = argv0_is_qemu(argv[0]);
    for (size_t i = 1; i < argc; i++) {
        const char *o = argv[i], *val;
        if (o[0] != '-' || !o[1])
            continue;
        o += o[1] == '-' ? 2 : 1;
        if (!takes_arg(o) || i + 1 >= argc)
            continue;
        val = argv[++i];
        if (streq(o, "name")) {
            free(out->name);
            out->name = NULL;
            if (qemu_opts_get(val, "guest", "guest", &out->name) == -ENOMEM) {
                r = -ENOMEM;
                goto out;
            }
            out->debug_threads = opt_is_on(val, "debug-threads");
        } else if (streq(o, "uuid")) {
            if (uuid_canonical(val, out->uuid) < 0)
                out->uuid[0] = 0;
        } else if (streq(o, "smp"))
            out->smp = parse_smp(val);
        else if (streq(o, "m"))
            out->mem_mb = parse_mem_mb(val);
        else if ((streq(o, "qmp") || streq(o, "qmp-pretty")) && !out->qmp_path) {
            _cleanup_free_ char *first = NULL;
            if (qemu_opts_get(val, "path", "path", &first) == 0 && startswith(first, "unix:") && first[5])
                out->qmp_path = strdup(first + 5);
        } else if (streq(o, "chardev")) {
            _cleanup_free_ char *backend = NULL, *id = NULL, *path = NULL, *fd = NULL;
            chardev_sock *ns;
            if (qemu_opts_get(val, "backend", "backend", &backend) < 0 || !streq(backend, "socket") ||
                qemu_opts_get(val, "id", NULL, &id) < 0)
                continue;
            if (qemu_opts_get(val, "path", NULL, &path) < 0 && qemu_opts_get(val, "fd", NULL, &fd) < 0)
                continue;
            ns = realloc(socks, (nsocks + 1) * sizeof(*ns));
            if (!ns) {
                r = -ENOMEM;
                goto out;
            }
            socks = ns;
            socks[nsocks++] = (chardev_sock){.id = TAKE_PTR(id), .path = TAKE_PTR(path)};
        } else if (streq(o, "mon")) {
            _cleanup_free_ char *mode = NULL, *cd = NULL;
            char **nm;
            if (qemu_opts_get(val, "mode", NULL, &mode) < 0 || !streq(mode, "control") ||
                qemu_opts_get(val, "chardev", NULL, &cd) < 0)
                continue;
            nm = realloc(mons, (nmons + 1) * sizeof(*nm));
            if (!nm) {
                r = -ENOMEM;
                goto out;
            }
            mons = nm;
            mons[nmons++] = TAKE_PTR(cd);
        } else if (streq(o, "netdev") || streq(o, "nic")) {
            qemu_nic *n = add_nic(out);
            if (!n) {
                r = -ENOMEM;
                goto out;
            }
            (void)qemu_opts_get(val, "type", "type", &n->type);
            (void)qemu_opts_get(val, "id", NULL, &n->id);
            (void)qemu_opts_get(val, "ifname", NULL, &n->ifname);
            if (streq(o, "nic"))
                (void)qemu_opts_get(val, "mac", NULL, &n->mac);
        }
    }
    /* MACs given on the -device that uses a -netdev. */
    for (size_t i = 1; i + 1 < argc; i++) {
        _cleanup_free_ char *nd = NULL, *mac = NULL;
        if (!streq(argv[i], "-device") && !streq(argv[i], "--device"))
            continue;
        if (qemu_opts_get(argv[i + 1], "netdev", NULL, &nd) < 0 || qemu_opts_get(argv[i + 1], "mac", NULL, &mac) < 0)
            continue;
        for (size_t k = 0; k < out->nnics; k++)
            if (out->nics[k].id && streq(out->nics[k].id, nd) && !out->nics[k].mac) {
                out->nics[k].mac = TAKE_PTR(mac);
                break;
            }
    }
    /* -mon chardev=ID,mode=control names a -chardev socket: its path is the QMP socket. */
    for (size_t m = 0; m < nmons && !out->qmp_path; m++)
        for (size_t k = 0; k < nsocks; k++)
            if (streq(socks[k].id, mons[m])) {
                if (socks[k].path)
                    out->qmp_path = strdup(socks[k].path);
                else
                    out->qmp_fd_only = true;
                break;
            }
out:
    for (size_t k = 0; k < nsocks; k++) {
        free(socks[k].id);
        free(socks[k].path);
    }
    free(socks);
    for (size_t m = 0; m < nmons; m++)
        free(mons[m]);
    free(mons);
    free(argv);
    if (r < 0)
        qemu_cmdline_done(out);
    return r;
}

void qemu_cmdline_done(qemu_cmdline *c) {
    free(c->name);
    free(c->qmp_path);
    for (size_t i = 0; i < c->nnics; i++) {
        free(c->nics[i].id);
        free(c->nics[i].type);
        free(c->nics[i].ifname);
        free(c->nics[i].mac);
    }
    free(c->nics);
    memset(c, 0, sizeof(*c));
}

/* ---------------------------------------------------------------------------------------------
 * /proc/net/dev
 * ------------------------------------------------------------------------------------------- */

int parse_net_dev(const char *buf, size_t len, const char *ifname, netdev_counters *out) {
    const char *p = buf, *end = buf + len;
    size_t il = strlen(ifname);

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p)), *q = p, *colon;
        if (!eol)
            eol = end;
        while (q < eol && *q == ' ')
            q++;
        colon = memchr(q, ':', (size_t)(eol - q));
        if (colon && (size_t)(colon - q) == il && memcmp(q, ifname, il) == 0) {
            /* rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes packets ... */
            uint64_t v[10];
            const char *t = colon + 1;
            for (int i = 0; i < 10; i++) {
                size_t tl;
                t = next_token(t, eol, &tl);
                if (tl == 0 || safe_atou64_n(t, tl, &v[i]) < 0)
                    return -EBADMSG;
                t += tl;
            }
            out->rx_bytes = v[0];
            out->rx_packets = v[1];
            out->tx_bytes = v[8];
            out->tx_packets = v[9];
            return 0;
        }
        p = eol + 1;
    }
    return -ENOENT;
}

/* ---------------------------------------------------------------------------------------------
 * A QEMU process in /proc
 * ------------------------------------------------------------------------------------------- */

bool qemu_proc_is_qemu(int proc_fd, const char *pid) {
    char path[300], buf[256];
    ssize_t n;

    snprintf(path, sizeof(path), "%s/exe", pid);
    n = readlinkat(proc_fd, path, buf, sizeof(buf) - 1);
    if (n > 0) {
        const char *base;
        buf[n] = 0;
        if (n > 10 && streq(buf + n - 10, " (deleted)")) /* QEMU upgraded under a running VM */
            buf[n - 10] = 0;
        base = strrchr(buf, '/');
        base = base ? base + 1 : buf;
        return startswith(base, "qemu-system-") || streq(base, "qemu-kvm") || streq(base, "kvm");
    }
    /* exe is unreadable without ptrace rights over the process: its name will do. */
    snprintf(path, sizeof(path), "%s/comm", pid);
    return read_line_at(proc_fd, path, buf, sizeof(buf)) > 0 &&
           (startswith(buf, "qemu-system-") || streq(buf, "qemu-kvm"));
}

int qemu_proc_read_stat(int proc_fd, const char *rel, pid_stat *ps) {
    char buf[1024];
    ssize_t n = read_file_at(proc_fd, rel, buf, sizeof(buf));
    if (n < 0)
        return (int)n;
    return parse_pid_stat(buf, (size_t)n, ps);
}

char *qemu_proc_name(const qemu_cmdline *c, pid_t pid) {
    char *name = NULL;
    /* QEMU without -name is named after its PID, so that it can still be looked up. */
    if (c->name && *c->name)
        return strdup(c->name);
    if (asprintf(&name, "qemu-%d", (int)pid) < 0)
        return NULL;
    return name;
}
