// The running Xen domains of this dom0 (--all-domains): the hypervisor's own
// list of domains, named from xenstore.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/stat.h>

#include "vmi/base/Error.hpp"
#include "vmi/base/HostRoot.hpp"
#include "vmi/memory/XenGuest.hpp"
#include "xen/XenApi.hpp"
#include "xen/XenHandles.hpp"

namespace vmi {
namespace {

// Domain ids at and above DOMID_FIRST_RESERVED (0x7FF0) are Xen's own.
constexpr std::uint32_t LAST_DOMID = DOMID_FIRST_RESERVED - 1;
constexpr unsigned int BATCH = 64;

std::string uuid_text(const xen_domain_handle_t& handle)
{
    return fmt::format(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        handle[0], handle[1], handle[2], handle[3], handle[4], handle[5], handle[6], handle[7], handle[8], handle[9],
        handle[10], handle[11], handle[12], handle[13], handle[14], handle[15]);
}

} // namespace

bool is_xen_dom0()
{
    struct stat status {};
    return ::stat(host_path("/dev/xen/privcmd").c_str(), &status) == 0 ||
           ::stat(host_path("/proc/xen/privcmd").c_str(), &status) == 0;
}

std::vector<XenDomainId> running_xen_domains()
{
    XenHandles xen(false);
    std::vector<XenDomainId> found;
    std::vector<xc_dominfo_t> infos(BATCH);
    // getinfo answers with up to BATCH domains at or above `next`, in id order.
    for (std::uint32_t next = 1; next <= LAST_DOMID;) {
        errno = 0;
        int count = XenApi::get().xc_domain_getinfo(xen.xc(), next, BATCH, infos.data());
        // No domain at or above `next`: ESRCH from the first look.
        if (count < 0 && errno == ESRCH) break;
        if (count < 0 && (errno == EPERM || errno == EACCES))
            fail("not privileged: Xen refuses the list of domains ({}); run as root in dom0", std::strerror(errno));
        if (count < 0) fail("cannot list Xen's domains: {}", XenHandles::last_library_error());
        if (count == 0) break;
        std::uint32_t last = next;
        for (int i = 0; i < std::min<int>(count, BATCH); ++i) {
            const xc_dominfo_t& info = infos[static_cast<std::size_t>(i)];
            last = std::max(last, info.domid);
            // Not dom0 (the host itself), nor a domain that is no guest to read any more.
            if (info.domid == 0 || info.domid > LAST_DOMID || info.dying || info.shutdown || info.crashed) continue;
            std::string name = xen.xenstore_read("/local/domain/" + std::to_string(info.domid) + "/name").value_or("");
            found.push_back({info.domid, std::move(name), uuid_text(info.handle)});
        }
        if (static_cast<unsigned int>(count) < BATCH || last < next) break;
        next = last + 1;
    }
    std::sort(found.begin(), found.end(), [](const XenDomainId& a, const XenDomainId& b) { return a.domid < b.domid; });
    return found;
}

} // namespace vmi
