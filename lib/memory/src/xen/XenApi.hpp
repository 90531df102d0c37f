#pragma once
// The Xen library functions the xen backend calls, loaded with dlopen when a
// Xen domain is named rather than linked, the way libvirt is (LibvirtApi):
// the tools then start and run on hosts without Xen. Types come from Xen's
// own headers, so each pointer has exactly the declared signature.
//
// libxenctrl's interface is tied to the hypervisor's version; this is
// Xen 4.17's (Debian 12): xc_domain_getinfo and xc_dominfo_t are gone in 4.18.
#include <cstdint>

#include "xen/XenHeaders.hpp"

namespace vmi {

struct XenApi {
    // libxenctrl
    decltype(&::xc_interface_open) xc_interface_open;
    decltype(&::xc_interface_close) xc_interface_close;
    decltype(&::xc_domain_getinfo) xc_domain_getinfo;
    decltype(&::xc_domain_get_guest_width) xc_domain_get_guest_width;
    decltype(&::xc_domain_maximum_gpfn) xc_domain_maximum_gpfn;
    decltype(&::xc_domain_pause) xc_domain_pause;
    decltype(&::xc_domain_unpause) xc_domain_unpause;
    decltype(&::xc_vcpu_getcontext) xc_vcpu_getcontext;
    decltype(&::xc_domain_hvm_getcontext_partial) xc_domain_hvm_getcontext_partial;
    decltype(&::xc_maximum_ram_page) xc_maximum_ram_page;
    // Exported by libxenctrl 4.17 (VERS_4.17.0) for its save/restore code but
    // declared only in its private headers: the type of each of `num` guest
    // frames in `frames` (XEN_DOMCTL_getpageframeinfo3), in place.
    int (*xc_get_pfn_type_batch)(xc_interface* xch, std::uint32_t domid, unsigned int num, xen_pfn_t* frames);
    // libxenguest
    decltype(&::xc_map_m2p) xc_map_m2p;
    // libxenforeignmemory
    decltype(&::xenforeignmemory_open) xenforeignmemory_open;
    decltype(&::xenforeignmemory_close) xenforeignmemory_close;
    decltype(&::xenforeignmemory_map) xenforeignmemory_map;
    decltype(&::xenforeignmemory_unmap) xenforeignmemory_unmap;
    // libxenstore
    decltype(&::xs_open) xs_open;
    decltype(&::xs_close) xs_close;
    decltype(&::xs_read) xs_read;
    decltype(&::xs_directory) xs_directory;

    // Loads the libraries once; throws vmi::Error ("no Xen here: ...")
    // naming the library or function that is missing.
    static const XenApi& get();
};

} // namespace vmi
