#pragma once
// Xen's public headers (libxen-dev 4.17), for the declarations only: the
// libraries are loaded at run time (XenApi). They are written in GNU C
// (anonymous unions, __align8__) and refuse strict ISO mode, which
// -std=c++20 announces with __STRICT_ANSI__; g++ takes both as extensions in
// system headers, so they are included with that macro set aside.
#pragma push_macro("__STRICT_ANSI__")
#undef __STRICT_ANSI__
// xenctrl.h first: the others build on its types.
// clang-format off
#include <xenctrl.h>
#include <xenforeignmemory.h>
#include <xenguest.h>
#include <xenstore.h>
#include <xen/hvm/save.h>
// clang-format on
#pragma pop_macro("__STRICT_ANSI__")
