/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Strings off the wire whole or not at all: rpcgen's code calls xdr_string (renamed to
 * uni_xdr_string for the generated files by meson.build), which would cut a string with an
 * embedded NUL to its prefix without a word; such a string is refused as malformed. */
#include <rpc/rpc.h>
#include <stdlib.h>
#include <string.h>

#undef xdr_string
extern bool_t xdr_string(XDR *x, char **sp, u_int max);
bool_t uni_xdr_string(XDR *x, char **sp, u_int max);

bool_t uni_xdr_string(XDR *x, char **sp, u_int max) {
    u_int pos, n = 0;
    bool_t had = *sp != NULL;
    if (x->x_op != XDR_DECODE)
        return xdr_string(x, sp, max);
    /* The length on the wire, read ahead and put back: xdr_string reads it again. */
    pos = xdr_getpos(x);
    if (!xdr_u_int(x, &n) || !xdr_setpos(x, pos) || !xdr_string(x, sp, max))
        return FALSE;
    if (strlen(*sp) != n) {
        if (!had) {
            free(*sp);
            *sp = NULL;
        }
        return FALSE;
    }
    return TRUE;
}
