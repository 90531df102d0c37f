#include "xen/XenFrameCache.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "vmi/base/Error.hpp"
#include "xen/XenApi.hpp"
#include "xen/XenDomain.hpp"

namespace vmi {
namespace {

constexpr std::size_t PAGE = 4096;

// A frame number Xen owns for no domain: a page the guest lacks is mapped as
// this, and fails on its own (the rest of the batch still maps).
constexpr xen_pfn_t NO_FRAME = ~xen_pfn_t{0};

} // namespace

XenFrameCache::XenFrameCache(XenDomain& domain, FrameOf frame_of, int prot, std::size_t batch, std::size_t capacity)
    : domain_(domain), frame_of_(std::move(frame_of)), prot_(prot), batch_(batch), capacity_(capacity)
{}

XenFrameCache::~XenFrameCache() { clear(); }

void XenFrameCache::clear()
{
    for (auto& [first, batch] : batches_)
        if (batch.base) XenApi::get().xenforeignmemory_unmap(domain_.foreign_memory(), batch.base, batch.count);
    batches_.clear();
}

XenFrameCache::Batch XenFrameCache::map_batch(std::uint64_t first_pfn)
{
    Batch batch;
    batch.count = batch_;
    batch.errors.assign(batch_, 0);
    batch.no_frame.assign(batch_, false);
    std::vector<xen_pfn_t> frames(batch_, NO_FRAME);
    for (std::size_t i = 0; i < batch_; ++i) {
        std::optional<xen_pfn_t> frame = frame_of_(first_pfn + i);
        if (frame) frames[i] = *frame;
        else batch.no_frame[i] = true;
    }
    ++map_calls_;
    errno = 0;
    void* base = XenApi::get().xenforeignmemory_map(domain_.foreign_memory(), domain_.id(), prot_, batch_,
                                                    frames.data(), batch.errors.data());
    if (!base) batch.call_error = errno ? errno : EINVAL;
    batch.base = static_cast<std::uint8_t*>(base);
    return batch;
}

std::uint8_t* XenFrameCache::page(std::uint64_t pfn)
{
    std::uint64_t first = pfn & ~std::uint64_t{batch_ - 1};
    auto found = batches_.find(first);
    if (found == batches_.end()) {
        if (batches_.size() >= capacity_) clear();
        found = batches_.emplace(first, map_batch(first)).first;
    }
    const Batch& batch = found->second;
    std::size_t index = pfn - first;
    if (batch.no_frame[index]) fail("{}: guest page {:#x} has no frame (not RAM)", domain_.describe(), pfn);
    if (!batch.base)
        fail("{}: cannot map guest page {:#x}: {}", domain_.describe(), pfn, std::strerror(batch.call_error));
    if (batch.errors[index] != 0) {
        int error = batch.errors[index] < 0 ? -batch.errors[index] : batch.errors[index];
        fail("{}: cannot map guest page {:#x}{}: {}", domain_.describe(), pfn,
             (prot_ & PROT_WRITE) ? " for writing" : "", std::strerror(error));
    }
    return batch.base + index * PAGE;
}

} // namespace vmi
