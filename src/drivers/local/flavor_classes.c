/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A Nova VM's reliability class from its flavor's name: the table uniserver-placement-sync keeps
 * from Nova's flavor list (?flavor_classes=FILE, default /var/lib/uniserver/flavor-classes), since
 * Nova 26 writes only <nova:flavor name=...> into the domain's metadata, not the extra specs. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "domains_internal.h"
#include "lib/domain.h"
#include "util/util.h"

#define DEFAULT_FLAVOR_CLASSES "/var/lib/uniserver/flavor-classes"

int flavor_class_parse(const char *text, size_t len, const char *flavor) {
    /* One "<class> TAB <flavor name>" a line; '#' lines are comments. The name runs to the end
     * of the line (names may hold spaces); a line that does not parse is skipped, so that one bad
     * row does not lose the others. */
    size_t fl = strlen(flavor);
    for (const char *p = text, *end = text + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *eol = nl ? nl : end;
        const char *tab = memchr(p, '\t', (size_t)(eol - p));
        if (*p != '#' && tab && (size_t)(eol - tab - 1) == fl && !memcmp(tab + 1, flavor, fl)) {
            char cls[16];
            size_t cl = (size_t)(tab - p);
            if (cl < sizeof(cls)) {
                memcpy(cls, p, cl);
                cls[cl] = 0;
                int c = uni_reliability_parse(cls);
                if (c >= 0)
                    return c;
            }
        }
        p = eol + 1;
    }
    return -ENOENT;
}

const char *vms_flavor_classes_path(const vms_state *s) {
    return s->flavor_classes ? s->flavor_classes : DEFAULT_FLAVOR_CLASSES;
}

int vms_flavor_class(vms_state *s, const char *flavor) {
    /* Read again only when the file was replaced or changed (the agent renames a new one into
     * place); a file that is not there is no table. */
    struct stat st;
    if (!flavor)
        return -ENOENT;
    if (stat(vms_flavor_classes_path(s), &st) < 0) {
        free(s->flavor_text);
        s->flavor_text = NULL;
        return -ENOENT;
    }
    if (!s->flavor_text || st.st_ino != s->flavor_st.st_ino || st.st_size != s->flavor_st.st_size ||
        st.st_mtim.tv_sec != s->flavor_st.st_mtim.tv_sec || st.st_mtim.tv_nsec != s->flavor_st.st_mtim.tv_nsec) {
        char *text = NULL;
        if (read_file_at_alloc(AT_FDCWD, vms_flavor_classes_path(s), &text) < 0)
            return -ENOENT;
        free(s->flavor_text);
        s->flavor_text = text;
        s->flavor_st = st;
    }
    return flavor_class_parse(s->flavor_text, strlen(s->flavor_text), flavor);
}
