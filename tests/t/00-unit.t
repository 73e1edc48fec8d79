#!/bin/bash
# The C unit tests (tests/unit/, built with ASan as build/unit by
# `make unit`): passes their TAP through, plan included.
source "$(dirname "$0")/../lib.sh"
UNIT=${NETIMG_UNIT:-$TOP/build/unit}
[ -x "$UNIT" ] || skip_all "$UNIT is not built (make unit)"
"$UNIT"
