#pragma once
// Guest pages mapped into this process with xenforeignmemory_map, a batch of
// adjacent guest-physical pages per call, and kept mapped until clear(): the
// xen backend clears it whenever the guest is paused or resumed, so a cached
// page is never older than the current pause. What a guest page's frame is
// (a machine frame for PV guests, the guest frame itself otherwise) the
// backend says through `frame_of`. Bounded: when full it starts over.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "xen/XenHeaders.hpp"

namespace vmi {

class XenDomain;

class XenFrameCache {
public:
    // The frame to map for guest page `pfn`, or nullopt when it has none.
    using FrameOf = std::function<std::optional<xen_pfn_t>(std::uint64_t pfn)>;

    // `prot`: PROT_READ, or PROT_READ | PROT_WRITE; `batch`: pages per map
    // call (a power of two); `capacity`: batches kept mapped at most.
    XenFrameCache(XenDomain& domain, FrameOf frame_of, int prot, std::size_t batch, std::size_t capacity);
    ~XenFrameCache();
    XenFrameCache(const XenFrameCache&) = delete;
    XenFrameCache& operator=(const XenFrameCache&) = delete;

    // The mapped 4 KiB page of guest page `pfn`; throws vmi::Error when Xen
    // cannot map it.
    std::uint8_t* page(std::uint64_t pfn);
    void clear();

    std::size_t map_calls() const { return map_calls_; }

private:
    struct Batch {
        std::uint8_t* base = nullptr; // `count` pages, or null when the whole call failed
        std::size_t count = 0;
        std::vector<int> errors; // per page: 0 or a negative errno
        std::vector<bool> no_frame;
        int call_error = 0;
    };
    Batch map_batch(std::uint64_t first_pfn);

    XenDomain& domain_;
    FrameOf frame_of_;
    int prot_;
    std::size_t batch_;
    std::size_t capacity_;
    std::unordered_map<std::uint64_t, Batch> batches_;
    std::size_t map_calls_ = 0;
};

} // namespace vmi
