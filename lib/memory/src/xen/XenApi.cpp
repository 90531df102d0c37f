#include "xen/XenApi.hpp"

#include <dlfcn.h>

#include "vmi/base/Error.hpp"

namespace vmi {
namespace {

// Debian 12 names: libxenctrl and libxenguest come in libxenmisc4.17.
struct Library {
    const char* soname;
    const char* package;
};
constexpr Library XENCTRL{"libxenctrl.so.4.17", "libxenmisc4.17"};
constexpr Library XENGUEST{"libxenguest.so.4.17", "libxenmisc4.17"};
constexpr Library FOREIGNMEMORY{"libxenforeignmemory.so.1", "libxenforeignmemory1"};
constexpr Library XENSTORE{"libxenstore.so.4", "libxenstore4"};

void* open_library(const Library& library)
{
    void* handle = ::dlopen(library.soname, RTLD_NOW | RTLD_GLOBAL);
    if (!handle) {
        const char* why = ::dlerror();
        fail("no Xen here: cannot load {} ({}); the Xen backend needs Xen 4.17's tool libraries (Debian: {})",
             library.soname, why ? why : "unknown error", library.package);
    }
    return handle; // kept for the life of the process
}

template <typename Function>
void resolve(void* library, Function& function, const char* name, const Library& from)
{
    void* symbol = ::dlsym(library, name);
    if (!symbol) fail("no Xen here: {} has no {} (the Xen backend needs Xen 4.17's libraries)", from.soname, name);
    function = reinterpret_cast<Function>(symbol);
}

XenApi load()
{
    void* ctrl = open_library(XENCTRL);
    void* guest = open_library(XENGUEST);
    void* fmem = open_library(FOREIGNMEMORY);
    void* store = open_library(XENSTORE);
    XenApi api{};
    resolve(ctrl, api.xc_interface_open, "xc_interface_open", XENCTRL);
    resolve(ctrl, api.xc_interface_close, "xc_interface_close", XENCTRL);
    resolve(ctrl, api.xc_domain_getinfo, "xc_domain_getinfo", XENCTRL);
    resolve(ctrl, api.xc_domain_get_guest_width, "xc_domain_get_guest_width", XENCTRL);
    resolve(ctrl, api.xc_domain_maximum_gpfn, "xc_domain_maximum_gpfn", XENCTRL);
    resolve(ctrl, api.xc_domain_pause, "xc_domain_pause", XENCTRL);
    resolve(ctrl, api.xc_domain_unpause, "xc_domain_unpause", XENCTRL);
    resolve(ctrl, api.xc_vcpu_getcontext, "xc_vcpu_getcontext", XENCTRL);
    resolve(ctrl, api.xc_domain_hvm_getcontext_partial, "xc_domain_hvm_getcontext_partial", XENCTRL);
    resolve(ctrl, api.xc_maximum_ram_page, "xc_maximum_ram_page", XENCTRL);
    resolve(ctrl, api.xc_get_pfn_type_batch, "xc_get_pfn_type_batch", XENCTRL);
    resolve(guest, api.xc_map_m2p, "xc_map_m2p", XENGUEST);
    resolve(fmem, api.xenforeignmemory_open, "xenforeignmemory_open", FOREIGNMEMORY);
    resolve(fmem, api.xenforeignmemory_close, "xenforeignmemory_close", FOREIGNMEMORY);
    resolve(fmem, api.xenforeignmemory_map, "xenforeignmemory_map", FOREIGNMEMORY);
    resolve(fmem, api.xenforeignmemory_unmap, "xenforeignmemory_unmap", FOREIGNMEMORY);
    resolve(store, api.xs_open, "xs_open", XENSTORE);
    resolve(store, api.xs_close, "xs_close", XENSTORE);
    resolve(store, api.xs_read, "xs_read", XENSTORE);
    resolve(store, api.xs_directory, "xs_directory", XENSTORE);
    return api;
}

} // namespace

const XenApi& XenApi::get()
{
    static const XenApi api = load();
    return api;
}

} // namespace vmi
