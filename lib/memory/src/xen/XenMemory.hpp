#pragma once
// Guest-physical memory of a running Xen domain (the xen backend).
//
//  - HVM and PVH guests: Xen translates guest frames itself, so a guest page
//    is mapped by its own frame number; RAM is the set of populated frames
//    (asked of Xen once, below its highest frame); registers come from the
//    domain's HVM context (the CPU save record of vCPU 0).
//  - PV guests: guest-physical pages are reached through the guest's p2m,
//    page-table frames and CR3 (machine frames) turned back into
//    guest-physical ones through the m2p (XenPvPhysmap); registers from
//    xc_vcpu_getcontext. 64-bit PV only (Linux has no 32-bit PV guests since 5.9).
//
// Pages are mapped in batches and kept mapped until the next pause or
// resume (XenFrameCache); reads map read-only, and only a writable source
// (vmi-write) maps the pages it writes, writable, one by one. pause() and
// resume() are xc_domain_pause/unpause; a domain someone else paused is left
// paused.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pause/LivePause.hpp"
#include "vmi/memory/MemorySource.hpp"
#include "xen/XenDomain.hpp"
#include "xen/XenFrameCache.hpp"
#include "xen/XenPvPhysmap.hpp"

namespace vmi {

class SignalSafeCommand;

class XenMemory : public MemorySource {
public:
    XenMemory(std::unique_ptr<XenDomain> domain, bool writable);
    ~XenMemory() override;
    XenMemory(const XenMemory&) = delete;
    XenMemory& operator=(const XenMemory&) = delete;

    void read(std::uint64_t address, std::span<std::uint8_t> out) override;
    void write(std::uint64_t address, std::span<const std::uint8_t> data) override;
    const std::vector<PhysicalRange>& ranges() const override;
    std::optional<CpuRegisters> registers() const override;
    bool pause() override;
    void resume() override;
    std::optional<std::uint64_t> table_page_to_physical(std::uint64_t page) const override;
    bool live() const override { return true; }
    // "xen-DOMID-NAME": a domid is not reused while its domain lives.
    std::string guest_key() const override;
    // "xl unpause DOMID"
    std::string resume_command() const override;
    // From the pause time limit's thread: unpauses the domain (a hypercall
    // only: the mappings stay for this thread to drop) and makes every read
    // and write throw from then on, until the next pause().
    void expire_pause(const std::string& why) override;
    // `xl unpause DOMID`, prepared beforehand: libxenctrl is not
    // async-signal-safe.
    void resume_from_signal_handler() noexcept override;
    void resume_signal_safe() noexcept override;
    bool resume_if_paused() override;
    void set_pause_witness(PauseWitness* witness) override { pause_.set_witness(witness); }
    bool writable() const override { return writable_; }
    std::string describe() const override;

private:
    std::optional<xen_pfn_t> frame_of(std::uint64_t pfn) const;
    std::vector<PhysicalRange> populated_ranges() const;
    CpuRegisters pv_registers() const;
    CpuRegisters hvm_registers() const;
    void drop_mappings();

    std::unique_ptr<XenDomain> domain_;
    bool writable_;
    bool hvm_ = false;
    std::string kind_; // "PV", "PVH", "HVM"
    std::unique_ptr<XenPvPhysmap> physmap_;
    std::vector<PhysicalRange> hvm_ranges_;
    std::unique_ptr<XenFrameCache> readable_;
    std::unique_ptr<XenFrameCache> writable_pages_;
    mutable std::optional<CpuRegisters> registers_;
    bool paused_by_us_ = false;
    LivePause pause_;
    std::unique_ptr<SignalSafeCommand> resume_by_xl_;
};

} // namespace vmi
