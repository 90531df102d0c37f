#pragma once
// A paravirtualised (PV) Xen guest's two frame maps. Its "guest-physical"
// (pseudo-physical) pages are backed by machine frames (MFNs) that Xen hands
// out anywhere in the host's RAM; the guest keeps the map pfn -> mfn (the
// p2m, published through its shared_info page), Xen the reverse mfn -> pfn
// (the m2p, one table for all domains). A PV guest's page tables and CR3
// hold machine frames, while everything else in the guest (__pa(), the
// direct map, mm->pgd) means pseudo-physical addresses: the backend shows
// pseudo-physical memory (through the p2m) and turns machine frames from
// page tables back into pseudo-physical ones (through the m2p).
//
// Both maps are guest-influenced (a PV guest writes its p2m and sets its m2p
// entries), so a pair counts only when it agrees both ways:
// p2m[pfn] == mfn and m2p[mfn] == pfn. Xen itself refuses to map an MFN
// that is not the domain's.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vmi/memory/MemorySource.hpp"
#include "xen/XenHeaders.hpp"

namespace vmi {

class XenDomain;

class XenPvPhysmap {
public:
    // Reads the p2m (its frame-list tree) and maps the m2p. Throws vmi::Error
    // when the guest publishes no usable p2m.
    explicit XenPvPhysmap(XenDomain& domain);
    ~XenPvPhysmap();
    XenPvPhysmap(const XenPvPhysmap&) = delete;
    XenPvPhysmap& operator=(const XenPvPhysmap&) = delete;

    // Re-reads the p2m if the guest changed it since (its generation count or
    // size differ); true when it did. Called on each pause.
    bool refresh();

    std::optional<xen_pfn_t> mfn(std::uint64_t pfn) const;
    std::optional<std::uint64_t> pfn(xen_pfn_t mfn) const;

    // The pages with a frame, as guest-physical ranges.
    const std::vector<PhysicalRange>& ranges() const { return ranges_; }
    std::uint64_t max_pfn() const { return p2m_.size(); }
    std::string describe() const;

private:
    struct Anchors {
        std::uint64_t max_pfn = 0;
        std::uint64_t frame_list_list = 0;
        std::uint64_t generation = 0;
    };
    Anchors read_anchors() const;
    void read_p2m(const Anchors& anchors);
    // Copies whole machine frames (MFNs) into `out`, 4 KiB each.
    void read_machine_frames(const std::vector<xen_pfn_t>& frames, std::uint64_t* out) const;

    XenDomain& domain_;
    Anchors anchors_;
    std::vector<xen_pfn_t> p2m_;
    const xen_pfn_t* m2p_ = nullptr;
    std::size_t m2p_bytes_ = 0;
    std::uint64_t m2p_entries_ = 0;
    std::vector<PhysicalRange> ranges_;
};

} // namespace vmi
