# SPDX-License-Identifier: LGPL-2.1-or-later
"""Create uniserver's Gnocchi resource types (uniserver_host, uniserver_host_cpu, uniserver_host_component).

    python3 -m uniserver_ceilometer.gnocchi_setup http://gnocchi:8041 [--user admin]

With Keystone, pass --token instead of --user. Existing types are left as they are."""
import argparse
import base64
import json
import sys
import urllib.error
import urllib.request

from uniserver_ceilometer.pollsters import RESOURCE_TYPES


def create_types(url, user=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["X-Auth-Token"] = token
    else:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user or 'admin'}:".encode()).decode()
    made = []
    for name, attrs in RESOURCE_TYPES.items():
        body = json.dumps({"name": name, "attributes": attrs}).encode()
        req = urllib.request.Request(url.rstrip("/") + "/v1/resource_type", data=body, headers=headers, method="POST")
        try:
            urllib.request.urlopen(req, timeout=30).read()
            made.append(name)
        except urllib.error.HTTPError as e:
            if e.code != 409:  # 409: it exists
                raise
    return made


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url")
    ap.add_argument("--user", default="admin")
    ap.add_argument("--token")
    a = ap.parse_args(argv)
    made = create_types(a.url, a.user, a.token)
    print("created: " + (", ".join(made) if made else "nothing (the types exist)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
