#include "xen/XenPvPhysmap.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "vmi/base/Diagnostics.hpp"
#include "vmi/base/Error.hpp"
#include "xen/XenApi.hpp"
#include "xen/XenDomain.hpp"

namespace vmi {
namespace {

constexpr std::size_t PAGE = 4096;
constexpr std::size_t PER_PAGE = PAGE / sizeof(std::uint64_t); // p2m entries of a 64-bit guest per page
// The frame-list tree has three levels of 512: it covers 512 GiB of pfns.
constexpr std::uint64_t TREE_LIMIT = PER_PAGE * PER_PAGE * PER_PAGE;
// xc_map_m2p maps the m2p in 2 MiB chunks (libxenguest's M2P_SIZE).
constexpr std::size_t M2P_CHUNK = std::size_t{1} << 21;

constexpr std::uint64_t INVALID = ~std::uint64_t{0};

} // namespace

XenPvPhysmap::XenPvPhysmap(XenDomain& domain) : domain_(domain)
{
    const XenApi& xen = XenApi::get();
    unsigned long max_mfn = 0;
    if (xen.xc_maximum_ram_page(domain_.xc(), &max_mfn) != 0)
        fail("{}: cannot get the host's highest machine frame: {}", domain_.describe(), domain_.last_library_error());
    unsigned long mfn0 = 0;
    m2p_entries_ = static_cast<std::uint64_t>(max_mfn) + 1;
    m2p_ = xen.xc_map_m2p(domain_.xc(), m2p_entries_, PROT_READ, &mfn0);
    if (!m2p_) fail("{}: cannot map Xen's m2p table: {}", domain_.describe(), domain_.last_library_error());
    m2p_bytes_ = (m2p_entries_ * sizeof(xen_pfn_t) + M2P_CHUNK - 1) & ~(M2P_CHUNK - 1);
    anchors_ = read_anchors();
    read_p2m(anchors_);
}

XenPvPhysmap::~XenPvPhysmap()
{
    if (m2p_) ::munmap(const_cast<xen_pfn_t*>(m2p_), m2p_bytes_); // NOLINT: mapped by xc_map_m2p
}

void XenPvPhysmap::read_machine_frames(const std::vector<xen_pfn_t>& frames, std::uint64_t* out) const
{
    const XenApi& xen = XenApi::get();
    std::vector<int> errors(frames.size(), 0);
    void* mapped = xen.xenforeignmemory_map(domain_.foreign_memory(), domain_.id(), PROT_READ, frames.size(),
                                            frames.data(), errors.data());
    if (!mapped)
        fail("{}: cannot map the guest's p2m pages: {}", domain_.describe(), std::strerror(errno ? errno : EINVAL));
    auto bad = std::find_if(errors.begin(), errors.end(), [](int e) { return e != 0; });
    if (bad == errors.end()) std::memcpy(out, mapped, frames.size() * PAGE);
    xen.xenforeignmemory_unmap(domain_.foreign_memory(), mapped, frames.size());
    if (bad != errors.end())
        fail("{}: the guest's p2m names machine frame {:#x}, which Xen will not map ({})", domain_.describe(),
             frames[bad - errors.begin()], std::strerror(*bad < 0 ? -*bad : *bad));
}

XenPvPhysmap::Anchors XenPvPhysmap::read_anchors() const
{
    // For a PV domain shared_info_frame is a machine frame like any other.
    xc_dominfo_t info = domain_.info();
    std::vector<std::uint64_t> page(PER_PAGE);
    read_machine_frames({info.shared_info_frame}, page.data());
    shared_info_any_t shared{};
    static_assert(sizeof shared.x64 <= PAGE);
    std::memcpy(&shared.x64, page.data(), sizeof shared.x64);
    Anchors anchors;
    anchors.max_pfn = shared.x64.arch.max_pfn;
    anchors.frame_list_list = shared.x64.arch.pfn_to_mfn_frame_list_list;
    anchors.generation = shared.x64.arch.p2m_generation;

    // A guest's word only: bounded by what Xen says about its size.
    std::uint64_t pages = std::max<std::uint64_t>(info.nr_pages, info.max_memkb / 4);
    if (anchors.max_pfn == 0)
        fail("{}: the guest publishes no p2m yet (max_pfn 0): has it booted?", domain_.describe());
    if (anchors.max_pfn > TREE_LIMIT || anchors.max_pfn > 16 * pages + (std::uint64_t{1} << 20))
        fail("{}: the guest's p2m claims {:#x} pages, implausible for {} MiB (or beyond the p2m frame-list tree)",
             domain_.describe(), anchors.max_pfn, info.max_memkb / 1024);
    if (anchors.frame_list_list == 0 || anchors.frame_list_list == INVALID)
        fail("{}: the guest publishes no p2m frame list (pfn_to_mfn_frame_list_list)", domain_.describe());
    return anchors;
}

void XenPvPhysmap::read_p2m(const Anchors& anchors)
{
    // Three levels: the list-list page names frame-list pages, each naming
    // 512 leaf pages of 512 MFNs.
    std::uint64_t leaves = (anchors.max_pfn + PER_PAGE - 1) / PER_PAGE;
    std::uint64_t lists = (leaves + PER_PAGE - 1) / PER_PAGE;
    std::vector<std::uint64_t> list_list(PER_PAGE);
    read_machine_frames({anchors.frame_list_list}, list_list.data());
    std::vector<std::uint64_t> list(lists * PER_PAGE);
    read_machine_frames(std::vector<xen_pfn_t>(list_list.begin(), list_list.begin() + static_cast<long>(lists)),
                        list.data());
    std::vector<std::uint64_t> p2m(leaves * PER_PAGE);
    read_machine_frames(std::vector<xen_pfn_t>(list.begin(), list.begin() + static_cast<long>(leaves)), p2m.data());
    p2m.resize(anchors.max_pfn);

    // Keep a pair only when the m2p agrees; coalesce the pages into ranges.
    ranges_.clear();
    std::uint64_t kept = 0;
    for (std::uint64_t pfn = 0; pfn < p2m.size(); ++pfn) {
        std::uint64_t mfn = p2m[pfn];
        if (mfn >= m2p_entries_ || m2p_[mfn] != pfn) {
            p2m[pfn] = INVALID;
            continue;
        }
        ++kept;
        if (!ranges_.empty() && ranges_.back().end() == pfn * PAGE) ranges_.back().size += PAGE;
        else ranges_.push_back({pfn * PAGE, PAGE});
    }
    p2m_ = std::move(p2m);
    diag::note("{}: p2m of {:#x} pages read ({} backed, {} RAM ranges, generation {})", domain_.describe(),
               anchors.max_pfn, kept, ranges_.size(), anchors.generation);
}

bool XenPvPhysmap::refresh()
{
    Anchors now = read_anchors();
    if (now.max_pfn == anchors_.max_pfn && now.frame_list_list == anchors_.frame_list_list &&
        now.generation == anchors_.generation)
        return false;
    // An odd generation: the guest was stopped inside an update; what it left is read as it is.
    if (now.generation & 1) diag::note("{}: paused while it was changing its p2m", domain_.describe());
    read_p2m(now);
    anchors_ = now;
    return true;
}

std::optional<xen_pfn_t> XenPvPhysmap::mfn(std::uint64_t pfn) const
{
    if (pfn >= p2m_.size() || p2m_[pfn] == INVALID) return std::nullopt;
    return p2m_[pfn];
}

std::optional<std::uint64_t> XenPvPhysmap::pfn(xen_pfn_t mfn) const
{
    if (mfn >= m2p_entries_) return std::nullopt;
    std::uint64_t pfn = m2p_[mfn];
    if (pfn >= p2m_.size() || p2m_[pfn] != mfn) return std::nullopt;
    return pfn;
}

std::string XenPvPhysmap::describe() const
{
    return fmt::format("p2m of {:#x} pages from the guest's shared_info, m2p of {:#x} machine frames", p2m_.size(),
                       m2p_entries_);
}

} // namespace vmi
