/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The simulated board's VMs (pure, part of the model): their vCPUs' demand on the cores they may
 * run on, and each board error attributed to the VMs that ran on the erring domain. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "model.h"

/* Each vCPU's demand is spread evenly over the cores it may run on (the scheduler balances it). */
static void update_load(sb_model *m) {
    memset(m->vm_load, 0, sizeof(m->vm_load));
    for (int v = 0; v < SB_MAX_VMS; v++) {
        const sb_vm *x = &m->vm[v];
        for (int i = 0; x->active && i < x->nvcpu; i++) {
            int n = __builtin_popcount(x->allowed[i]);
            for (int c = 0; c < SB_NCPU && n; c++)
                if (x->allowed[i] >> c & 1)
                    m->vm_load[c] += x->demand / n;
        }
    }
}

int sb_vm_find(const sb_model *m, const char *name) {
    for (int v = 0; v < SB_MAX_VMS; v++)
        if (m->vm[v].active && strcmp(m->vm[v].name, name) == 0)
            return v;
    return -ENOENT;
}

int sb_vm_add(sb_model *m, const char *name, int cls, int nvcpu, double demand) {
    size_t len = strlen(name);
    if (len == 0 || len >= sizeof(m->vm[0].name) || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-_") != len ||
        cls < 0 || cls > 2 || nvcpu < 1 || nvcpu > SB_VM_MAX_VCPUS || !(demand >= 0 && demand <= 1))
        return -EINVAL;
    if (sb_vm_find(m, name) >= 0)
        return -EEXIST;
    for (int v = 0; v < SB_MAX_VMS; v++) {
        sb_vm *x = &m->vm[v];
        if (x->active)
            continue;
        memset(x, 0, sizeof(*x));
        x->active = true;
        snprintf(x->name, sizeof(x->name), "%s", name);
        x->cls = cls, x->nvcpu = nvcpu, x->demand = demand;
        for (int i = 0; i < nvcpu; i++)
            x->allowed[i] = (uint8_t)((1u << SB_NCPU) - 1);
        m->nvm++;
        update_load(m);
        return v;
    }
    return -ENOSPC;
}

int sb_vm_remove(sb_model *m, const char *name) {
    int v = sb_vm_find(m, name);
    if (v < 0)
        return v;
    m->vm[v].active = false;
    m->nvm--;
    update_load(m);
    return 0;
}

int sb_vm_set_allowed(sb_model *m, int v, int vcpu, unsigned mask) {
    if (v < 0 || v >= SB_MAX_VMS || !m->vm[v].active || vcpu < 0 || vcpu >= m->vm[v].nvcpu)
        return -ENOENT;
    if (mask == 0 || mask >> SB_NCPU)
        return -EINVAL;
    m->vm[v].allowed[vcpu] = (uint8_t)mask;
    update_load(m);
    return 0;
}

int sb_vm_set_demand(sb_model *m, int v, double demand) {
    if (v < 0 || v >= SB_MAX_VMS || !m->vm[v].active)
        return -ENOENT;
    if (!(demand >= 0 && demand <= 1))
        return -EINVAL;
    m->vm[v].demand = demand;
    update_load(m);
    return 0;
}

void sb_counts_of(const sb_model *m, sb_counts *c) {
    memset(c, 0, sizeof(*c));
    for (int p = 0; p < SB_NPMD; p++)
        c->pmd_ce[p] = m->pmd_ce[p][0] + m->pmd_ce[p][1], c->pmd_ue[p] = m->pmd_ue[p];
    for (int k = 0; k < SB_NMC; k++)
        for (int d = 0; d < SB_DIMMS; d++)
            c->mc_ce += m->dimm_ce[k][d], c->mc_ue += m->dimm_ue[k][d];
}

void sb_vms_attribute(sb_model *m, const sb_counts *before, double dt) {
    sb_counts now;
    sb_counts_of(m, &now);
    for (int v = 0; v < SB_MAX_VMS; v++) {
        sb_vm *x = &m->vm[v];
        unsigned ran = 0; /* the PMDs its vCPUs ran on this tick */
        if (!x->active)
            continue;
        for (int i = 0; i < x->nvcpu; i++)
            for (int p = 0; p < SB_NPMD; p++)
                if (x->demand > 0 && (x->allowed[i] >> (2 * p) & 3))
                    ran |= 1u << p;
        for (int p = 0; p < SB_NPMD; p++)
            if (ran >> p & 1)
                x->pmd_ce += now.pmd_ce[p] - before->pmd_ce[p], x->pmd_ue += now.pmd_ue[p] - before->pmd_ue[p];
        x->mc_ce += now.mc_ce - before->mc_ce;
        x->mc_ue += now.mc_ue - before->mc_ue;
        for (int i = 0; i < x->nvcpu && dt > 0; i++) {
            int n = __builtin_popcount(x->allowed[i]);
            double got = 0, asked = 0;
            for (int c = 0; c < SB_NCPU && n; c++) {
                /* The core's time asked for at its clock now, and the share of it served. */
                double scale = (double)SB_MAX_KHZ / sb_pmd_khz(m, c / 2), all = (m->load[c] + m->vm_load[c]) * scale,
                       ask = x->demand / n * scale;
                if (!(x->allowed[i] >> c & 1))
                    continue;
                asked += ask;
                got += all > 1 ? ask / all : ask;
            }
            x->run_s[i] += got * dt;
            x->wait_s[i] += (asked - got) * dt;
            x->cpu_s += got * dt;
            x->slices[i] += got > 0;
        }
    }
}
