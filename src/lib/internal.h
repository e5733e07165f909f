/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The library's internals, for code that needs most of them (the entry points in src/lib and the
 * drivers). Each concern has its own header; include the one you need where that is all:
 *   lib/catalog.h       metric and view enums, groups, the descriptor array
 *   lib/errors.h        setting the last error
 *   lib/select.h        selections
 *   lib/record.h        records, absences, views built from records
 *   lib/uri.h           connection URIs
 *   lib/control_util.h  control calls' shared checks, operating-point lists, audit
 *   lib/domain.h        domains as drivers name them
 *   lib/driver.h        the driver table, connections, the drivers, the clock */
#pragma once

#include "lib/catalog.h"
#include "lib/control_util.h"
#include "lib/domain.h"
#include "lib/driver.h"
#include "lib/errors.h"
#include "lib/record.h"
#include "lib/select.h"
#include "lib/uri.h"
