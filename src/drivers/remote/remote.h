/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Defaults shared by the remote driver and uniserverd: where the sockets live, the ports. */
#pragma once

#include "lib/internal.h"

#define UNI_DEFAULT_RUNTIME_DIR "/run/uniserver"
#define UNI_SOCK_RW "uniserver-sock"
#define UNI_SOCK_RO "uniserver-sock-ro"
#define UNI_DEFAULT_TLS_PORT 16520
#define UNI_DEFAULT_TCP_PORT 16521
#define UNI_DEFAULT_PKI_DIR "/etc/pki/uniserver"

/* $UNISERVER_RUNTIME_DIR, else /run/uniserver. */
const char *uni_default_runtime_dir(void);
